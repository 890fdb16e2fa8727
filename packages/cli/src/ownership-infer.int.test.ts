/**
 * `converge ownership infer` as a real process, on real traffic from three roles through the
 * inference cluster (`.ci/infer-cluster.sh`): the planted undeclared writer is the headline from
 * both sources, the proposal is a manifest `parseManifest` accepts, and every wrong input exits 2.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseManifest } from '@converge/core';
import {
  createInferTestDatabase,
  createSysopsSchema,
  type InferTestDatabase,
  runSysopsTraffic,
} from '@converge/core/testing';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { runConverge } from '../test/run-converge.js';

const dir = mkdtempSync(join(tmpdir(), 'converge-infer-'));
let db: InferTestDatabase | null = null;

/** The scenario's manifest; `support` declares what support_contract owns and reads. */
const manifest = (support: string, shared = '') => `version: 1
services:
  customer_profile:
    database: \${CUSTOMER_PROFILE_DATABASE_URL}
    owns: [customer]
  support_contract:
    database: \${SUPPORT_CONTRACT_DATABASE_URL}
${support}
  billing_payment:
    database: \${BILLING_PAYMENT_DATABASE_URL}
    owns: [payment]
    reads: [customer_profile.customer]
${shared}`;
const MANIFEST = join(dir, 'converge.yaml');
const LENIENT = join(dir, 'lenient.yaml');
const DATA_DOMAIN = join(dir, 'data-domain.yaml');
const EMPTY_LOG = join(dir, 'empty.log');
writeFileSync(MANIFEST, manifest('    owns: [contract]\n    reads: [customer_profile.customer]'));
writeFileSync(
  LENIENT,
  manifest('    owns: [contract]\n    reads: [customer_profile.customer, billing_payment.payment]'),
);
// What the traffic does, declared: billing_payment and support_contract both write the contract
// table, as a data domain in support_contract's schema; support_contract reads the payments.
writeFileSync(
  DATA_DOMAIN,
  manifest(
    '    reads: [customer_profile.customer, billing_payment.payment]',
    'shared:\n  contract: { ownership: joint, technique: data-domain, schema: support_contract, services: [support_contract, billing_payment] }\n',
  ),
);
writeFileSync(EMPTY_LOG, '');

beforeAll(async () => {
  db = await createInferTestDatabase('converge ownership infer');
  if (db !== null) await createSysopsSchema(db);
});
afterAll(async () => {
  await db?.drop();
  rmSync(dir, { recursive: true, force: true });
});
beforeEach(async (context) => {
  if (db === null) context.skip();
  await db?.resetStatistics();
});

function url(): string {
  return (db as InferTestDatabase).url;
}

/** Runs the scenario's traffic, then `converge ownership infer --database <the test database> ...args`. */
async function inferAfterTraffic(...args: string[]) {
  await runSysopsTraffic(db as InferTestDatabase);
  return runConverge(['ownership', 'infer', '--database', url(), ...args]);
}

describe('converge ownership infer', () => {
  it('names the planted undeclared writer first from pg_stat_statements: exit 3', async () => {
    const run = await inferAfterTraffic('-f', MANIFEST);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(3);
    const blocks = run.stdout.split('\n\n');
    expect(blocks[1]).toMatch(
      /^PROBLEM {2}UNDECLARED_WRITER {2}support_contract\.contract {2}billing_payment\n/,
    );
    expect(blocks[1]).toContain(
      "Service 'billing_payment' (role billing_payment) wrote support_contract.contract (update;",
    );
    expect(blocks[2]).toMatch(
      /^PROBLEM {2}UNDECLARED_READER {2}billing_payment\.payment {2}support_contract\n/,
    );
    expect(run.stdout).toMatch(/2 problem\(s\), 0 for information\.\n$/);
  });

  it('finds the same from the log file, in JSON: exit 3', async () => {
    await runSysopsTraffic(db as InferTestDatabase);
    const log = await (db as InferTestDatabase).captureLog();
    const run = await runConverge([
      'ownership',
      'infer',
      '--database',
      url(),
      '--log',
      log,
      '-f',
      MANIFEST,
      '--json',
    ]);
    expect(run.code).toBe(3);
    const report = JSON.parse(run.stdout);
    expect(report.problems).toBe(2);
    expect(report.differences[0]).toMatchObject({
      kind: 'UNDECLARED_WRITER',
      severity: 'problem',
      service: 'billing_payment',
      table: 'support_contract.contract',
      roles: ['billing_payment'],
    });
    expect(report.observations.source).toBe('log');
    expect(report.observations.statements.unparsable).toBe(0);
  });

  it('exits 0 once the manifest declares what the traffic does (a data domain)', async () => {
    const run = await inferAfterTraffic('-f', DATA_DOMAIN);
    expect(run.stdout).toMatch(/\n\nThe traffic matches the manifest\.\n$/);
    expect(run.code).toBe(0);
  });

  it('reports an owner never seen writing for information only: exit 0', async () => {
    // Without billing_payment's statements, nobody writes payment and nobody else is out of bounds.
    const run = await inferAfterTraffic('-f', LENIENT, '--ignore-role', 'billing_payment');
    const blocks = run.stdout.split('\n\n');
    expect(blocks[1]).toMatch(/^info {2}OWNER_NEVER_WRITES {2}billing_payment\.payment {2}billing_payment\n/);
    expect(blocks[1]).toContain('--role-map');
    expect(run.stdout).toMatch(/0 problem\(s\), 1 for information\.\n$/);
    expect(run.code).toBe(0);
  });

  it('proposes a manifest that parses, with no reader as owner: exit 0', async () => {
    const run = await inferAfterTraffic();
    expect(run.code).toBe(0);
    const { manifest, problems } = parseManifest(run.stdout);
    expect(problems).toEqual([]);
    const owns = Object.fromEntries(manifest?.services.map((service) => [service.name, service.owns]) ?? []);
    expect(owns).toEqual({
      billing_payment: ['payment'],
      customer_profile: ['customer'],
      support_contract: [],
    });
    expect(run.stdout).toContain(
      '# support_contract.contract is written by billing_payment, support_contract',
    );
  });

  it('maps roles with --role-map and prints observations with --json', async () => {
    const run = await inferAfterTraffic('--json', '--role-map', 'billing_payment=billing');
    expect(run.code).toBe(0);
    const report = JSON.parse(run.stdout);
    expect(report.roles).toContainEqual({ role: 'billing_payment', service: 'billing' });
    expect(report.accesses).toContainEqual(
      expect.objectContaining({ table: 'support_contract.contract', service: 'billing', access: 'write' }),
    );
  });

  it.each([
    [['--from', 'log'], /--from log needs the log file/],
    [['--log', join(dir, 'missing.log')], /log file .* cannot be read \(ENOENT\)/],
    [['--role-map', 'nonsense'], /--role-map 'nonsense' is not role=service/],
    [['--log', EMPTY_LOG, '--log-prefix', '%m [%p] '], /log_line_prefix '%m \[%p\] ' has no %u/],
    [['-f', join(dir, 'missing.yaml')], /manifest .* cannot be read \(ENOENT\)/],
  ])('rejects %j: exit 2', async (args, message) => {
    const run = await runConverge(['ownership', 'infer', '--database', url(), ...args]);
    expect(run.stderr).toMatch(message);
    expect(run.code).toBe(2);
  });

  it('rejects a manifest with problems, naming ownership check: exit 2', async () => {
    const broken = join(dir, 'broken.yaml');
    writeFileSync(broken, 'version: 1\nservices:\n  Billing:\n    database: x\n');
    const run = await runConverge(['ownership', 'infer', '--database', url(), '-f', broken]);
    expect(run.stderr).toMatch(/has \d+ problem\(s\).*\n.*broken\.yaml:3:3/);
    expect(run.stderr).toContain(`converge ownership check -f ${broken}`);
    expect(run.code).toBe(2);
  });

  it('says how to enable pg_stat_statements where it is missing, and refuses SQLite: exit 2', async () => {
    const template = new URL(url());
    template.pathname = '/template1';
    const missing = await runConverge(['ownership', 'infer', '--database', template.toString()]);
    expect(missing.stderr).toMatch(/shared_preload_libraries.*CREATE EXTENSION pg_stat_statements/);
    expect(missing.code).toBe(2);
    const sqlite = await runConverge(['ownership', 'infer', '--database', `sqlite:${join(dir, 'x.db')}`]);
    expect(sqlite.stderr).toMatch(/not a PostgreSQL database/);
    expect(sqlite.code).toBe(2);
  });
});
