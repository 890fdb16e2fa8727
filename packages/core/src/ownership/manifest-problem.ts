/**
 * What `parseManifest` reports about a `converge.yaml`: each problem with a stable code, where it
 * is (the path in the file and the line and column of the YAML node), what is wrong and what to
 * do. Codes are part of the public contract: scripts and CI annotations match on them; the
 * messages may be reworded.
 */
import type { Manifest } from './manifest.js';

/** Every code a manifest problem can have. `docs/ownership-manifest.md` lists each with an example. */
export const ManifestProblemCode = {
  // The file itself.
  /** Not YAML: the file cannot be parsed at all (`converge ownership check` exits 2). */
  YAML_SYNTAX: 'YAML_SYNTAX',
  /** The same key twice in one mapping. */
  DUPLICATE_KEY: 'DUPLICATE_KEY',
  /** The document is empty or not a mapping. */
  MANIFEST_NOT_MAPPING: 'MANIFEST_NOT_MAPPING',
  // Shape: what the JSON Schema also rejects.
  /** A value of the wrong type (a list where a mapping belongs, a number for a name, …). */
  WRONG_TYPE: 'WRONG_TYPE',
  /** A key the manifest does not know at that place (with a "did you mean"). */
  UNKNOWN_KEY: 'UNKNOWN_KEY',
  /** A required key is missing (a service's `database`, a shared table's `ownership`, …). */
  MISSING_KEY: 'MISSING_KEY',
  /** `version` is not a version this code reads. */
  VERSION_UNSUPPORTED: 'VERSION_UNSUPPORTED',
  /** `ownership` or `technique` is not one of the known values. */
  INVALID_VALUE: 'INVALID_VALUE',
  /** `joint` without `technique`. */
  JOINT_TECHNIQUE_MISSING: 'JOINT_TECHNIQUE_MISSING',
  /** A list or mapping that must not be empty is (delegates, data-domain services, split parts, …). */
  EMPTY_LIST: 'EMPTY_LIST',
  /** The same entry twice in one list. */
  DUPLICATE_ENTRY: 'DUPLICATE_ENTRY',
  /** A `service.table` reference that is not of that form. */
  TABLE_REF_INVALID: 'TABLE_REF_INVALID',
  /** A `${NAME}` reference in a database URL that is malformed. */
  DATABASE_REFERENCE_INVALID: 'DATABASE_REFERENCE_INVALID',
  IDENTIFIER_EMPTY: 'IDENTIFIER_EMPTY',
  IDENTIFIER_NUL: 'IDENTIFIER_NUL',
  IDENTIFIER_TOO_LONG: 'IDENTIFIER_TOO_LONG',
  IDENTIFIER_INVALID: 'IDENTIFIER_INVALID',
  IDENTIFIER_RESERVED: 'IDENTIFIER_RESERVED',
  // Rules: what only the checker sees (references across the file, ownership conflicts).
  /** Two names that become one once PostgreSQL keeps only their first 63 bytes. */
  IDENTIFIER_TRUNCATION_COLLISION: 'IDENTIFIER_TRUNCATION_COLLISION',
  /** A password written in the manifest instead of a `${NAME}` reference. */
  DATABASE_PASSWORD_IN_FILE: 'DATABASE_PASSWORD_IN_FILE',
  /** A table in two services' `owns` without a shared declaration. */
  TABLE_CLAIMED_BY_TWO_OWNERS: 'TABLE_CLAIMED_BY_TWO_OWNERS',
  /** A table written (owns or writes) by several services without a shared declaration. */
  TABLE_WRITTEN_BY_SEVERAL: 'TABLE_WRITTEN_BY_SEVERAL',
  /** A service writes a shared table although the declaration does not let it. */
  SHARED_TABLE_WRITTEN_DIRECTLY: 'SHARED_TABLE_WRITTEN_DIRECTLY',
  /** `common` without `owner`. */
  COMMON_OWNER_MISSING: 'COMMON_OWNER_MISSING',
  /** `delegate` without `owner`. */
  DELEGATE_OWNER_MISSING: 'DELEGATE_OWNER_MISSING',
  /** A `common` or `delegate` owner (or a consolidation's `into`) that does not list the table in `owns`. */
  OWNER_DOES_NOT_OWN: 'OWNER_DOES_NOT_OWN',
  /** A delegating service (or a common writer) that still lists the table in its `owns`. */
  DELEGATE_STILL_OWNS: 'DELEGATE_STILL_OWNS',
  /** The owner is also listed among the delegates or writers. */
  OWNER_LISTED_AS_DELEGATE: 'OWNER_LISTED_AS_DELEGATE',
  /** `data-domain` without `schema`. */
  DATA_DOMAIN_SCHEMA_MISSING: 'DATA_DOMAIN_SCHEMA_MISSING',
  /** A data-domain table that a service also lists in its `owns`. */
  DATA_DOMAIN_TABLE_OWNED: 'DATA_DOMAIN_TABLE_OWNED',
  /** A table-split part not owned by exactly one service (the one the split names). */
  TABLE_SPLIT_PART_NOT_OWNED: 'TABLE_SPLIT_PART_NOT_OWNED',
  /** `consolidation` without `into`. */
  CONSOLIDATION_INTO_MISSING: 'CONSOLIDATION_INTO_MISSING',
  /** A service a consolidation merged (`from`) that is still declared as a service. */
  CONSOLIDATED_SERVICE_STILL_APART: 'CONSOLIDATED_SERVICE_STILL_APART',
  /** A reference to a service the manifest does not declare. */
  UNKNOWN_SERVICE: 'UNKNOWN_SERVICE',
  /** A reference to a table no service owns (or not the service named). */
  UNKNOWN_TABLE: 'UNKNOWN_TABLE',
  /** A copy whose owner table is not declared in the owner's `owns`. */
  COPY_SOURCE_UNDECLARED: 'COPY_SOURCE_UNDECLARED',
  /** A copy without `key`. */
  COPY_KEY_MISSING: 'COPY_KEY_MISSING',
  /** A copy table the copying service does not own, or a copy kept by the owner itself. */
  COPY_TARGET_INVALID: 'COPY_TARGET_INVALID',
} as const;
export type ManifestProblemCode = (typeof ManifestProblemCode)[keyof typeof ManifestProblemCode];

/** One problem in a manifest. */
export interface ManifestProblem {
  readonly code: ManifestProblemCode;
  /** The file, as given to `parseManifest` (default `converge.yaml`). */
  readonly file: string;
  /** Where in the file: `services.billing.owns[2]`; empty for the whole document. */
  readonly path: string;
  /** 1-based line and column of the YAML node; 0 when the manifest did not come from text. */
  readonly line: number;
  readonly column: number;
  /** What is wrong, naming the subject; never a password. */
  readonly message: string;
  /** What to change. */
  readonly remedy: string;
}

/** Where a node is in the file. */
export interface SourcePosition {
  readonly line: number;
  readonly column: number;
}

/** Options of `parseManifest`. */
export interface ParseManifestOptions {
  /** The file name to put in each problem. Default: `converge.yaml`. */
  readonly file?: string;
}

/**
 * What `parseManifest` returns: the manifest only when the file has no problem at all (a manifest
 * with problems is never handed to enforcement), and every problem found, in file order.
 */
export interface ParseManifestResult {
  readonly manifest: Manifest | undefined;
  readonly problems: readonly ManifestProblem[];
}
