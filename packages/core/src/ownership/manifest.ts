/**
 * The ownership manifest (`converge.yaml`), as Converge reads it once parsed and checked: which
 * service writes which table (chapter 9's first rule: the service that writes a table owns it),
 * the tables more than one service writes and how that is resolved, who may read another's
 * table, and the copies a service keeps of another's data.
 *
 * The file, in short (the full reference is `docs/ownership-manifest.md`; the JSON Schema is
 * `packages/core/schema/converge.schema.json`):
 *
 * ```yaml
 * version: 1
 * services:
 *   customer_profile:
 *     database: ${CUSTOMER_PROFILE_DATABASE_URL}
 *     owns: [customer]
 *     reads: [support_contract.contract]
 *   audit:
 *     database: postgres://audit@db/audit
 *     owns: [audit_log]
 * shared:
 *   audit_log: { ownership: common, owner: audit, writers: [customer_profile, support_contract] }
 *   product:   { ownership: joint, technique: table-split, parts: { product: catalog, product_inventory: inventory } }
 *   survey:    { ownership: joint, technique: delegate, owner: survey, delegates: [customer_survey] }
 * copies:
 *   - { of: customer_profile.customer, in: billing_payment.customer_copy, key: id, columns: { status: customer_status } }
 * ```
 *
 * Every name here is an identifier `^[a-z_][a-z0-9_]*$` of at most 63 bytes, checked before a
 * `Manifest` exists; code that turns one into SQL still quotes it (`quoteIdentifier`) and passes
 * every value as a bind parameter.
 */

/** The manifest format version this code reads. */
export const MANIFEST_VERSION = 1;

/** A service: the unit of ownership (its own database, its own roles). */
export interface ServiceDeclaration {
  readonly name: string;
  /** Its database URL as written, `${NAME}` references not yet expanded (see `expandDatabaseUrl`). */
  readonly database: string;
  /** The PostgreSQL schema its tables live in. Default: the service's name. */
  readonly schema: string;
  /** Tables it alone writes (single ownership). */
  readonly owns: readonly string[];
  /** Other services' tables it may read, as `service.table`. */
  readonly reads: readonly TableRef[];
  /**
   * Tables it writes without owning them (what it does today, declared or found by `ownership
   * infer`). Sound only for a data-domain table that lists the service; for any other table the
   * check reports the writer and names the resolution. `parseManifest` always fills it (`[]`).
   */
  readonly writes?: readonly string[];
}

/** A table of a service: `service.table`. */
export interface TableRef {
  readonly service: string;
  readonly table: string;
}

/** Chapter 9's techniques for a table several services of one domain write. */
export const JointTechnique = {
  /** Each service owns its own part of the table and keeps the others informed. */
  TABLE_SPLIT: 'table-split',
  /** A shared schema the listed services may all write (a broader bounded context). */
  DATA_DOMAIN: 'data-domain',
  /** One owner writes; the others delegate their writes to it. */
  DELEGATE: 'delegate',
  /** The services are merged into one, which owns the table (ACID regained). */
  CONSOLIDATION: 'consolidation',
} as const;
export type JointTechnique = (typeof JointTechnique)[keyof typeof JointTechnique];

/** A table written by more than one service, and how that is resolved. */
export type SharedTable =
  /** Most services write it (Audit): a dedicated owner; the others send it messages. */
  | {
      readonly table: string;
      readonly ownership: 'common';
      readonly owner: string;
      /** The services that want to write it and send the owner messages instead. */
      readonly writers: readonly string[];
    }
  | {
      readonly table: string;
      readonly ownership: 'joint';
      readonly technique: 'table-split';
      /** Each part (a table) and the one service that owns it. */
      readonly parts: Readonly<Record<string, string>>;
    }
  | {
      readonly table: string;
      readonly ownership: 'joint';
      readonly technique: 'data-domain';
      /** The shared schema holding the table. */
      readonly schema: string;
      /** The services that may write it. */
      readonly services: readonly string[];
    }
  | {
      readonly table: string;
      readonly ownership: 'joint';
      readonly technique: 'delegate';
      readonly owner: string;
      /** Services that delegate their writes to the owner (they never write it directly). */
      readonly delegates: readonly string[];
    }
  | {
      readonly table: string;
      readonly ownership: 'joint';
      readonly technique: 'consolidation';
      /** The merged service that owns the table now. */
      readonly into: string;
      /** The services it was merged from (they must no longer appear as services). */
      readonly from: readonly string[];
    };

/** A copy a service keeps of another service's data (background synchronization compares them). */
export interface CopyDeclaration {
  /** The owner's table. */
  readonly of: TableRef;
  /** The copy, in another service. */
  readonly in: TableRef;
  /** The key column(s) in the owner's table. */
  readonly key: readonly string[];
  /** Owner column → copy column, for the columns that differ in name (others: same name). */
  readonly columns: Readonly<Record<string, string>>;
}

/** A parsed, checked manifest. */
export interface Manifest {
  readonly version: typeof MANIFEST_VERSION;
  readonly services: readonly ServiceDeclaration[];
  readonly shared: readonly SharedTable[];
  readonly copies: readonly CopyDeclaration[];
}
