import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isConvergeError } from '../../core/errors.js';
import { IDENTIFIER_PATTERN } from '../identifiers.js';
import type { Manifest } from '../manifest.js';
import type { EnforcementCatalog } from './enforcement-catalog.js';
import { enforcementFixture, fixtureNames } from './enforcement-fixture.js';
import { enforcementTarget } from './enforcement-target.js';
import { FRESH_DATABASE_CATALOG, planEnforcement } from './plan-enforcement.js';
import { searchPathOf } from './postgres-enforcement-catalog.js';
import { verifyEnforcement } from './verify-enforcement.js';

const manifest = enforcementFixture('p');
const n = fixtureNames('p');
/** The fixture with one database per service. */
const ownDatabases: Manifest = {
  ...manifest,
  services: manifest.services.map((service) => ({ ...service, database: `postgres://db/${service.name}` })),
};
const sqlOf = (plan: ReturnType<typeof planEnforcement>) => plan.statements.map((statement) => statement.sql);

describe('planEnforcement without a database', () => {
  const sql = sqlOf(planEnforcement(manifest));

  it('creates an owner and a runtime role per service, with no password, and pins search_path last', () => {
    expect(sql.slice(0, 2)).toEqual([
      'CREATE ROLE "p_catalog_owner" NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS',
      'CREATE ROLE "p_catalog_runtime" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS',
    ]);
    expect(sql).toContain(
      'CREATE ROLE "p_domain_owner" NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS',
    );
    expect(sql.at(-2)).toMatch(/^ALTER ROLE "p_domain_owner" SET search_path = "p_domain"$/);
    expect(sql.at(-1)).toBe('ALTER ROLE "converge_owner" SET search_path = "converge"');
    expect(sql).toContain('ALTER ROLE "p_catalog_runtime" SET search_path = "p_catalog", "p_domain"');
    expect(sql.join('\n')).not.toMatch(/PASSWORD|'/);
  });

  it('gives each schema to its owner role and takes everything from PUBLIC', () => {
    expect(sql).toContain('REVOKE CREATE ON SCHEMA "public" FROM PUBLIC');
    const schema = sql.filter(
      (statement) =>
        /SCHEMA (IF NOT EXISTS )?"p_catalog"/.test(statement) && !statement.startsWith('ALTER DEFAULT'),
    );
    expect(schema).toEqual([
      'CREATE SCHEMA IF NOT EXISTS "p_catalog" AUTHORIZATION "p_catalog_owner"',
      'ALTER SCHEMA "p_catalog" OWNER TO "p_catalog_owner"',
      'REVOKE ALL ON SCHEMA "p_catalog" FROM PUBLIC',
      'GRANT USAGE ON SCHEMA "p_catalog" TO "p_catalog_runtime"',
      'GRANT USAGE ON SCHEMA "p_catalog" TO "p_inventory_runtime"',
    ]);
  });

  it('grants DML to the owner, SELECT to declared readers, and nothing to common writers or delegates', () => {
    const on = (table: string) => sql.filter((statement) => statement.includes(`TABLE ${table} `));
    expect(on('"p_catalog"."product"')).toEqual([
      'ALTER TABLE "p_catalog"."product" OWNER TO "p_catalog_owner"',
      'REVOKE ALL ON TABLE "p_catalog"."product" FROM PUBLIC',
      'GRANT SELECT, INSERT, UPDATE, DELETE ON TABLE "p_catalog"."product" TO "p_catalog_runtime"',
      'GRANT SELECT ON TABLE "p_catalog"."product" TO "p_inventory_runtime"',
    ]);
    expect(on('"p_audit"."audit_log"').filter((s) => s.startsWith('GRANT'))).toEqual([
      'GRANT SELECT, INSERT, UPDATE, DELETE ON TABLE "p_audit"."audit_log" TO "p_audit_runtime"',
    ]);
    expect(on('"p_survey"."survey"').filter((s) => s.startsWith('GRANT'))).toEqual([
      'GRANT SELECT, INSERT, UPDATE, DELETE ON TABLE "p_survey"."survey" TO "p_survey_runtime"',
    ]);
    expect(
      on('"p_domain"."product_tag"').filter((s) => s.startsWith('GRANT') || s.startsWith('ALTER')),
    ).toEqual([
      'ALTER TABLE "p_domain"."product_tag" OWNER TO "p_domain_owner"',
      'GRANT SELECT, INSERT, UPDATE, DELETE ON TABLE "p_domain"."product_tag" TO "p_catalog_runtime"',
      'GRANT SELECT, INSERT, UPDATE, DELETE ON TABLE "p_domain"."product_tag" TO "p_inventory_runtime"',
    ]);
    expect(on('"p_catalog"."wishlist"')).toContain(
      'ALTER TABLE "p_catalog"."wishlist" OWNER TO "p_catalog_owner"',
    );
    expect(on('"p_inventory"."product_copy"')).toContain(
      'GRANT SELECT, INSERT, UPDATE, DELETE ON TABLE "p_inventory"."product_copy" TO "p_inventory_runtime"',
    );
  });

  it('sets default privileges for the tables and sequences the owner creates later', () => {
    expect(sql).toContain(
      'ALTER DEFAULT PRIVILEGES FOR ROLE "p_catalog_owner" IN SCHEMA "p_catalog" GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO "p_catalog_runtime"',
    );
    expect(sql).toContain(
      'ALTER DEFAULT PRIVILEGES FOR ROLE "p_catalog_owner" IN SCHEMA "p_catalog" GRANT SELECT, USAGE ON SEQUENCES TO "p_catalog_runtime"',
    );
  });

  it('limits --service to what the service owns, and the roles the grants on it need', () => {
    const only = planEnforcement(ownDatabases, { service: n.audit });
    const roles = sqlOf(only)
      .filter((s) => s.startsWith('CREATE ROLE'))
      .map((s) => s.split(' ')[2]);
    expect(roles).toEqual(['"p_audit_owner"', '"p_audit_runtime"', '"converge_owner"']);
    const catalog = sqlOf(planEnforcement(ownDatabases, { service: n.catalog }));
    expect(catalog.filter((s) => s.startsWith('CREATE ROLE')).map((s) => s.split(' ')[2])).toEqual([
      '"p_catalog_owner"',
      '"p_catalog_runtime"',
      '"p_inventory_runtime"',
      '"p_domain_owner"',
      '"converge_owner"',
    ]);
    expect(catalog.some((s) => s.includes('"p_inventory"."product_inventory"'))).toBe(false);
    expect(() => planEnforcement(manifest, { service: 'nobody' })).toThrow(
      expect.objectContaining({ code: 'OWNERSHIP_SERVICE_NOT_FOUND' }),
    );
  });
});

describe("Converge's own schema", () => {
  const sql = sqlOf(planEnforcement(manifest));
  const runtimes = ['p_catalog_runtime', 'p_inventory_runtime', 'p_audit_runtime', 'p_survey_runtime'];

  it('is owned by converge_owner and usable by every runtime role of a shared database', () => {
    expect(sql).toContain(
      'CREATE ROLE "converge_owner" NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS',
    );
    expect(sql).toContain('CREATE SCHEMA IF NOT EXISTS "converge" AUTHORIZATION "converge_owner"');
    for (const runtime of runtimes) {
      expect(sql).toContain(`GRANT USAGE ON SCHEMA "converge" TO "${runtime}"`);
      expect(sql).toContain(
        `ALTER DEFAULT PRIVILEGES FOR ROLE "converge_owner" IN SCHEMA "converge" GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO "${runtime}"`,
      );
    }
    // Converge's tables are always written schema-qualified: the search_path stays the service's.
    expect(sql).toContain('ALTER ROLE "p_catalog_runtime" SET search_path = "p_catalog", "p_domain"');
  });

  it('gives DML on its tables, USAGE and SELECT on its sequences, and only SELECT on schema_migrations', () => {
    const catalog = matchingCatalog(enforcementTarget(manifest));
    const owned = { owner: 'converge_owner', columnGrants: [], linkedTable: null, grants: [] };
    const relations = [
      ...catalog.relations,
      { ...owned, schema: 'converge', name: 'outbox', kind: 'table' as const },
      { ...owned, schema: 'converge', name: 'schema_migrations', kind: 'table' as const },
      {
        ...owned,
        schema: 'converge',
        name: 'outbox_position_seq',
        kind: 'sequence' as const,
        linkedTable: 'outbox',
      },
    ];
    const plan = sqlOf(planEnforcement(manifest, { catalog: { ...catalog, relations } }));
    expect(plan).toEqual(
      runtimes
        .flatMap((runtime) => [
          `GRANT SELECT, INSERT, UPDATE, DELETE ON TABLE "converge"."outbox" TO "${runtime}"`,
        ])
        .concat(
          runtimes.map((runtime) => `GRANT SELECT ON TABLE "converge"."schema_migrations" TO "${runtime}"`),
          runtimes.map(
            (runtime) => `GRANT SELECT, USAGE ON SEQUENCE "converge"."outbox_position_seq" TO "${runtime}"`,
          ),
        ),
    );
  });

  it('with --service, is granted to the services that share its database, and revoked from the others', () => {
    const target = enforcementTarget(ownDatabases, { service: n.audit });
    expect(target.schemas.find((schema) => schema.name === 'converge')?.writers).toEqual(['p_audit_runtime']);
    const shared = enforcementTarget(manifest, { service: n.audit });
    expect(shared.schemas.find((schema) => schema.name === 'converge')?.writers).toEqual(runtimes);
    // In its own database, the audit service's plan takes Converge's tables from the others.
    const catalog = matchingCatalog(enforcementTarget(manifest));
    const plan = sqlOf(planEnforcement(ownDatabases, { service: n.audit, catalog }));
    expect(plan).toContain('REVOKE USAGE ON SCHEMA "converge" FROM "p_catalog_runtime"');
    expect(plan).not.toContain('REVOKE USAGE ON SCHEMA "converge" FROM "p_audit_runtime"');
  });

  it('takes another owner role, and refuses a manifest that claims its schema or role name', () => {
    expect(sqlOf(planEnforcement(manifest, { convergeOwner: 'platform_converge' }))).toContain(
      'CREATE SCHEMA IF NOT EXISTS "converge" AUTHORIZATION "platform_converge"',
    );
    const [first, ...rest] = manifest.services;
    const claims = { ...manifest, services: [{ ...first!, schema: 'converge' }, ...rest] };
    expect(() => planEnforcement(claims)).toThrow(/schema 'converge' is Converge's own .* p_catalog/);
    expect(() => planEnforcement(manifest, { convergeOwner: 'p_catalog_owner' })).toThrow(
      expect.objectContaining({ code: 'OWNERSHIP_ENFORCEMENT_INVALID' }),
    );
    expect(() => planEnforcement(manifest, { convergeOwner: 'Bad"Name' })).toThrow(
      expect.objectContaining({ code: 'IDENTIFIER_INVALID' }),
    );
  });
});

describe('planEnforcement against a catalog', () => {
  it('plans nothing, and verify finds nothing, when the database already matches', () => {
    const target = enforcementTarget(manifest);
    const catalog = matchingCatalog(target);
    expect(planEnforcement(manifest, { catalog }).statements).toEqual([]);
    expect(verifyEnforcement(manifest, catalog)).toEqual([]);
  });

  it('revokes a hand-made grant and nothing else', () => {
    const catalog = matchingCatalog(enforcementTarget(manifest));
    const relations = catalog.relations.map((relation) =>
      relation.name === 'audit_log'
        ? { ...relation, grants: [...relation.grants, { grantee: 'p_catalog_runtime', privilege: 'INSERT' }] }
        : relation,
    );
    const plan = planEnforcement(manifest, { catalog: { ...catalog, relations } });
    expect(sqlOf(plan)).toEqual(['REVOKE INSERT ON TABLE "p_audit"."audit_log" FROM "p_catalog_runtime"']);
    expect(plan.differences[0]).toMatchObject({
      kind: 'extra-grant',
      role: 'p_catalog_runtime',
      privileges: ['INSERT'],
    });
  });
});

describe('hostile names', () => {
  const hostile = fc.oneof(
    fc.string(),
    fc.constantFrom(
      'a"b',
      'x"; DROP TABLE t; --',
      'a;b',
      'a--b',
      'a/*b',
      'cаtalog',
      'Catalog',
      '',
      'a\0b',
      'select',
      'user',
    ),
    fc.string({ minLength: 56, maxLength: 70 }).map((s) => s.replace(/[^a-z]/g, 'a')),
  );
  const place = fc.constantFrom('service', 'schema', 'table', 'domain');

  it('are rejected with IDENTIFIER_INVALID and a message, or quoted as plain names', () => {
    fc.assert(
      fc.property(hostile, place, (name, where) => {
        const variant = withName(manifest, name, where);
        let sql: string[];
        try {
          sql = sqlOf(planEnforcement(variant));
        } catch (error) {
          expect(isConvergeError(error)).toBe(true);
          if (!isConvergeError(error)) return;
          expect(error.code).toBe('IDENTIFIER_INVALID');
          expect(error.message.length).toBeGreaterThan(20);
          return;
        }
        for (const statement of sql) {
          for (const [, quoted] of statement.matchAll(/"([^"]*)"/g))
            expect(quoted).toMatch(IDENTIFIER_PATTERN);
          expect(statement.replaceAll(/"[^"]*"/g, '').replace(' SET search_path =', '')).toMatch(
            /^[A-Z ,.]+$/,
          );
        }
      }),
      { numRuns: 300 },
    );
  });
});

describe('searchPathOf', () => {
  it.each([
    [['search_path=a, b'], ['a', 'b']],
    [['search_path="My ""x""", public'], ['My "x"', 'public']],
    [['work_mem=4MB'], null],
    [null, null],
  ])('reads %j', (setconfig, expected) => {
    expect(searchPathOf(setconfig)).toEqual(expected);
  });
});

function withName(base: Manifest, name: string, where: string): Manifest {
  const [first, ...rest] = base.services;
  if (where === 'domain') {
    return {
      ...base,
      shared: base.shared.map((shared) =>
        shared.ownership === 'joint' && shared.technique === 'data-domain'
          ? { ...shared, schema: name }
          : shared,
      ),
    };
  }
  const changed =
    where === 'service'
      ? { ...first!, name, schema: 'p_catalog' }
      : where === 'schema'
        ? { ...first!, schema: name }
        : { ...first!, owns: [...first!.owns, name] };
  // Renaming the service would leave references to the old name; keep only what stays consistent.
  return where === 'service'
    ? { ...base, services: [{ ...changed, reads: [] }], shared: [], copies: [] }
    : { ...base, services: [changed, ...rest] };
}

/** A catalog that holds exactly what `target` asks for. */
function matchingCatalog(target: ReturnType<typeof enforcementTarget>): EnforcementCatalog {
  const schemas = new Map(target.schemas.map((schema) => [schema.name, schema]));
  return {
    live: true,
    database: 'app',
    databaseCreate: [],
    publicSchemaCreate: [],
    roles: target.roles.map((role) => ({
      name: role.name,
      login: role.login,
      superuser: false,
      createDatabase: false,
      createRole: false,
      replication: false,
      bypassRls: false,
      searchPath: role.searchPath,
      memberOf: [],
    })),
    schemas: target.schemas.map((schema) => ({
      name: schema.name,
      owner: schema.owner,
      grants: schema.usage.map((grantee) => ({ grantee, privilege: 'USAGE' })),
    })),
    relations: target.tables.map((table) => ({
      schema: table.schema,
      name: table.name,
      kind: 'table',
      owner: table.owner,
      grants: [
        ...schemas
          .get(table.schema)!
          .writers.flatMap((grantee) =>
            ['SELECT', 'INSERT', 'UPDATE', 'DELETE'].map((privilege) => ({ grantee, privilege })),
          ),
        ...table.readers.map((grantee) => ({ grantee, privilege: 'SELECT' })),
      ],
      columnGrants: [],
      linkedTable: null,
    })),
    defaultPrivileges: target.schemas.flatMap((schema) =>
      (['tables', 'sequences'] as const).map((objects) => ({
        role: schema.owner,
        schema: schema.name,
        objects,
        grants: schema.writers.flatMap((grantee) =>
          (objects === 'tables' ? ['SELECT', 'INSERT', 'UPDATE', 'DELETE'] : ['USAGE', 'SELECT']).map(
            (privilege) => ({
              grantee,
              privilege,
            }),
          ),
        ),
      })),
    ),
  };
}

describe('planEnforcement for a fresh database', () => {
  it('creates roles, schemas, schema grants, default privileges and search_paths, and touches no table', () => {
    const sql = sqlOf(planEnforcement(manifest, { catalog: FRESH_DATABASE_CATALOG }));
    expect(sql.some((statement) => / (TABLE|SEQUENCE) /.test(statement))).toBe(false);
    expect(sql.filter((statement) => statement.startsWith('CREATE SCHEMA'))).toHaveLength(6);
    expect(sql).toContain('GRANT USAGE ON SCHEMA "converge" TO "p_survey_runtime"');
    expect(sql).not.toContain('REVOKE ALL ON SCHEMA "p_catalog" FROM PUBLIC');
    expect(planEnforcement(manifest, { catalog: FRESH_DATABASE_CATALOG }).differences).not.toContainEqual(
      expect.objectContaining({ kind: 'table-missing' }),
    );
  });
});
