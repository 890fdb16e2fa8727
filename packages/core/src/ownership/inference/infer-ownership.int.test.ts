/**
 * Inference on real traffic: three roles run their own statements (and two they should not)
 * through the inference cluster; both sources must see the same thing.
 */
import { readFileSync } from 'node:fs';
import pg from 'pg';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  createInferTestDatabase,
  createSysopsSchema,
  type InferTestDatabase,
  runSysopsTraffic,
} from '../../testing/inference-traffic.js';
import type { Manifest, ServiceDeclaration } from '../manifest.js';
import type { SqlQuery } from './database-catalog.js';
import { type InferenceInput, inferOwnership } from './infer-ownership.js';
import { compareWithManifest, DifferenceKind } from './manifest-differences.js';
import { proposeManifest } from './proposed-manifest.js';
import type { TrafficObservations } from './traffic-observations.js';

let db: InferTestDatabase | null = null;
let pool: pg.Pool | undefined;
let query: SqlQuery;

beforeAll(async () => {
  db = await createInferTestDatabase('ownership inference on real traffic');
  if (db === null) return;
  await createSysopsSchema(db);
  pool = new pg.Pool({ connectionString: db.url, max: 2 });
  const connected = pool;
  query = async (sql, params) => (await connected.query(sql, params === undefined ? [] : [...params])).rows;
});
afterAll(async () => {
  await pool?.end();
  await db?.drop();
});
beforeEach(async (context) => {
  if (db === null) context.skip();
  await db?.resetStatistics();
});

function service(name: string, owns: string[], reads: ServiceDeclaration['reads']): ServiceDeclaration {
  return { name, database: `\${${name.toUpperCase()}_DATABASE_URL}`, schema: name, owns, reads, writes: [] };
}

const MANIFEST: Manifest = {
  version: 1,
  services: [
    service('customer_profile', ['customer'], []),
    service('support_contract', ['contract'], [{ service: 'customer_profile', table: 'customer' }]),
    service('billing_payment', ['payment'], [{ service: 'customer_profile', table: 'customer' }]),
  ],
  shared: [],
  copies: [],
};

async function observe(input: InferenceInput): Promise<TrafficObservations> {
  const { observations } = await inferOwnership({ query, database: 'inference test', input });
  return observations;
}

function accesses(observations: TrafficObservations): string[] {
  return observations.accesses.map((access) => `${access.service} ${access.access} ${access.table}`);
}

/** What the scenario does, as (service access table), sorted like the observations. */
const EXPECTED = [
  'billing_payment write billing_payment.payment',
  'billing_payment read billing_payment.payment',
  'support_contract read billing_payment.payment',
  'billing_payment read customer_profile.customer',
  'customer_profile read customer_profile.customer',
  'customer_profile write customer_profile.customer',
  'support_contract read customer_profile.customer',
  'billing_payment write support_contract.contract',
  'support_contract read support_contract.contract',
  'support_contract write support_contract.contract',
].sort();

for (const source of ['pg_stat_statements', 'log'] as const) {
  describe(`inference from ${source}`, () => {
    async function traffic(): Promise<TrafficObservations> {
      await runSysopsTraffic(db as InferTestDatabase);
      if (source === 'pg_stat_statements') return observe({ from: 'pg_stat_statements' });
      const file = await (db as InferTestDatabase).captureLog();
      return observe({ from: 'log', text: readFileSync(file, 'utf8') });
    }

    it('attributes every read and write to its service, with no CTE taken for a table', async () => {
      const observations = await traffic();
      expect([...accesses(observations)].sort()).toEqual(EXPECTED);
      expect(observations.statements.unparsable).toBe(0);
      expect(observations.roles.find((role) => role.role === 'postgres')).toMatchObject({
        ignored: 'superuser',
      });
      // The CTE `contract` in billing_payment's SELECT is not support_contract.contract.
      expect(accesses(observations)).not.toContain('billing_payment read support_contract.contract');
      const update = observations.accesses.find(
        (access) => access.service === 'support_contract' && access.access === 'write',
      );
      expect(update?.operations).toEqual(['insert', 'update']);
    });

    it('finds the planted undeclared writer first, and the undeclared reader', async () => {
      const differences = compareWithManifest(await traffic(), MANIFEST);
      const problems = differences.filter((difference) => difference.severity === 'problem');
      expect(problems.map((d) => `${d.kind} ${d.service} ${d.table}`)).toEqual([
        `${DifferenceKind.UNDECLARED_WRITER} billing_payment support_contract.contract`,
        `${DifferenceKind.UNDECLARED_READER} support_contract billing_payment.payment`,
      ]);
      expect(problems[0]).toMatchObject({ roles: ['billing_payment'], operations: ['update'] });
      expect(differences.filter((d) => d.severity === 'info')).toEqual([]);
    });

    it('proposes no reader as an owner, and the doubly written table as shared', async () => {
      const yaml = proposeManifest(await traffic());
      expect(yaml).toContain(
        `  customer_profile:\n    database: $\{CUSTOMER_PROFILE_DATABASE_URL}\n    owns: [customer]\n`,
      );
      expect(yaml).toContain(
        `  billing_payment:\n    database: $\{BILLING_PAYMENT_DATABASE_URL}\n    owns: [payment]\n    reads: [customer_profile.customer]\n`,
      );
      expect(yaml).toContain(
        `  support_contract:\n    database: $\{SUPPORT_CONTRACT_DATABASE_URL}\n    owns: []\n    reads: [billing_payment.payment, customer_profile.customer]\n`,
      );
      expect(yaml).toContain('# support_contract.contract is written by billing_payment, support_contract');
    });
  });
}
