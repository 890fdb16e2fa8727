/**
 * A manifest with every technique, for enforcement tests. Service names carry `prefix` because
 * roles are cluster-wide: each test file picks its own, so files running at once never share a role.
 */
import type { Manifest, ServiceDeclaration } from '../manifest.js';
import { serviceRoles } from './enforcement-roles.js';

/** The services of `enforcementFixture`, by what they stand for. */
export interface FixtureNames {
  readonly catalog: string;
  readonly inventory: string;
  readonly audit: string;
  readonly survey: string;
  /** The data-domain schema catalog and inventory both write. */
  readonly domain: string;
  /** The owner of Converge's schema (`convergeOwner`), per prefix like the services' roles. */
  readonly convergeOwner: string;
}

/** Names for `prefix` (`t1a2b3c`): `t1a2b3c_catalog`, … */
export function fixtureNames(prefix: string): FixtureNames {
  return {
    catalog: `${prefix}_catalog`,
    inventory: `${prefix}_inventory`,
    audit: `${prefix}_audit`,
    survey: `${prefix}_survey`,
    domain: `${prefix}_domain`,
    convergeOwner: `${prefix}_converge_owner`,
  };
}

/**
 * Catalog owns product (and wishlist, consolidated into it), inventory owns its split part
 * product_inventory and a copy of product, audit owns audit_log (common: catalog and inventory
 * send it messages), survey owns survey (catalog delegates its writes), and catalog and inventory
 * share the data domain's product_tag. Inventory reads catalog.product; catalog reads
 * inventory.product_inventory.
 */
export function enforcementFixture(prefix: string): Manifest {
  const n = fixtureNames(prefix);
  const service = (name: string, owns: string[], reads: [string, string][] = []): ServiceDeclaration => ({
    name,
    database: 'postgres://db/app',
    schema: name,
    owns,
    reads: reads.map(([owner, table]) => ({ service: owner, table })),
  });
  return {
    version: 1,
    services: [
      service(n.catalog, ['product', 'wishlist'], [[n.inventory, 'product_inventory']]),
      service(n.inventory, ['product_inventory', 'product_copy'], [[n.catalog, 'product']]),
      service(n.audit, ['audit_log']),
      service(n.survey, ['survey']),
    ],
    shared: [
      { table: 'audit_log', ownership: 'common', owner: n.audit, writers: [n.catalog, n.inventory] },
      {
        table: 'product',
        ownership: 'joint',
        technique: 'table-split',
        parts: { product: n.catalog, product_inventory: n.inventory },
      },
      { table: 'survey', ownership: 'joint', technique: 'delegate', owner: n.survey, delegates: [n.catalog] },
      {
        table: 'product_tag',
        ownership: 'joint',
        technique: 'data-domain',
        schema: n.domain,
        services: [n.catalog, n.inventory],
      },
      {
        table: 'wishlist',
        ownership: 'joint',
        technique: 'consolidation',
        into: n.catalog,
        from: ['wishlist'],
      },
    ],
    copies: [
      {
        of: { service: n.catalog, table: 'product' },
        in: { service: n.inventory, table: 'product_copy' },
        key: ['id'],
        columns: {},
      },
    ],
  };
}

/** Every role `enforcementFixture(prefix)` makes, to drop after the tests. */
export function fixtureRoles(prefix: string): string[] {
  const n = fixtureNames(prefix);
  return [
    ...[n.catalog, n.inventory, n.audit, n.survey].flatMap((name) => Object.values(serviceRoles(name))),
    `${n.domain}_owner`,
    n.convergeOwner,
  ];
}
