/**
 * Manifests for the tests of `parseManifest`, the JSON Schema and `converge ownership check`: one
 * sound manifest with every kind of ownership (the book's Sysops Squad, Wishlist/Catalog/Inventory,
 * Product, Audit, Survey), and mutations of it that break one rule or one piece of shape each,
 * paired with a mutation that makes the same part sound again.
 */
// biome-ignore-all lint/suspicious/noTemplateCurlyInString: ${NAME} is the manifest's own syntax for environment variables.
import { stringify } from 'yaml';

export interface DraftService {
  [key: string]: unknown;
  database?: unknown;
  owns?: unknown[];
  writes?: unknown[];
  reads?: unknown[];
}

export interface Draft {
  [key: string]: unknown;
  services: Record<string, DraftService>;
  shared: Record<string, Record<string, unknown>>;
  copies: Record<string, unknown>[];
}

/** A fresh copy of the sound manifest. */
export function soundDraft(): Draft {
  return {
    version: 1,
    services: {
      customer_profile: {
        database: '${CUSTOMER_PROFILE_DATABASE_URL}',
        owns: ['customer'],
        reads: ['support_contract.contract'],
      },
      support_contract: { database: 'postgres://support_contract@db:5432/support', owns: ['contract'] },
      billing_payment: {
        database: 'postgres://billing:${BILLING_PASSWORD}@db:5432/billing',
        owns: ['billing', 'customer_copy'],
        reads: ['customer_profile.customer'],
      },
      audit: { database: '${AUDIT_DATABASE_URL}', owns: ['audit_log'] },
      survey: { database: '${SURVEY_DATABASE_URL}', owns: ['survey'] },
      customer_survey: { database: '${CUSTOMER_SURVEY_DATABASE_URL}', owns: [] },
      wishlist: { database: '${WISHLIST_DATABASE_URL}', owns: ['wishlist'], reads: ['catalog.product'] },
      catalog: { database: '${CATALOG_DATABASE_URL}', owns: ['product'] },
      inventory: {
        database: '${INVENTORY_DATABASE_URL}',
        schema: 'stock',
        owns: ['product_inventory'],
        writes: ['product_price'],
      },
      ticketing: { database: '${TICKETING_DATABASE_URL}', owns: ['ticket'] },
    },
    shared: {
      audit_log: {
        ownership: 'common',
        owner: 'audit',
        writers: ['customer_profile', 'support_contract', 'billing_payment'],
      },
      survey: { ownership: 'joint', technique: 'delegate', owner: 'survey', delegates: ['customer_survey'] },
      product: {
        ownership: 'joint',
        technique: 'table-split',
        parts: { product: 'catalog', product_inventory: 'inventory' },
      },
      product_price: {
        ownership: 'joint',
        technique: 'data-domain',
        schema: 'product_domain',
        services: ['catalog', 'inventory'],
      },
      ticket: {
        ownership: 'joint',
        technique: 'consolidation',
        into: 'ticketing',
        from: ['ticket_management', 'ticket_assignment'],
      },
    },
    copies: [
      {
        of: 'customer_profile.customer',
        in: 'billing_payment.customer_copy',
        key: 'id',
        columns: { status: 'customer_status' },
      },
    ],
  };
}

/** The sound manifest, changed by `mutate`, as YAML text. */
export function manifestYaml(mutate: (draft: Draft) => void = () => {}): string {
  const draft = soundDraft();
  mutate(draft);
  return stringify(draft);
}

/** A service of the draft, for mutations (throws when the fixture has no such service). */
export function service(draft: Draft, name: string): DraftService {
  const found = draft.services[name];
  if (found === undefined) throw new Error(`fixture has no service ${name}`);
  return found;
}

/** A shared table of the draft, for mutations. */
export function shared(draft: Draft, table: string): Record<string, unknown> {
  const found = draft.shared[table];
  if (found === undefined) throw new Error(`fixture has no shared table ${table}`);
  return found;
}
