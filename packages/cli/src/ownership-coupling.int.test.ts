/**
 * `converge ownership coupling` as a real process, on what real Converge traffic recorded in each
 * service's own SQLite file: Customer Profile's events are applied by Support Contract (which
 * tells Audit, fire and forget) and by Billing Payment, which answers each with a charge Customer
 * Profile applies and dead-letters a fifth of them. The pair that shares transactions, chains and
 * failures ranks first with consolidation and its reasons; pairs with no messages keep split; an
 * unreadable database is a warning that the pairs carry; markdown is an ADR draft.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type Consumer,
  createInbox,
  createOutbox,
  createRelay,
  createSqlLogTransport,
  type MessageHandler,
  type Relay,
  type Storage,
  TerminalError,
  type Transport,
} from '@converge/core';
import { createSqliteStorage } from '@converge/core/sqlite';
import { waitFor } from '@converge/core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runConverge } from '../test/run-converge.js';

const dir = mkdtempSync(join(tmpdir(), 'converge-coupling-'));
const CUSTOMERS = 10;
/** Customers whose charge Billing Payment cannot make: their events become dead letters. */
const UNBILLABLE = new Set(['c-8', 'c-9']);

const urlOf = (service: string) => `sqlite:${join(dir, `${service}.db`)}`;
const MANIFEST = join(dir, 'converge.yaml');
writeFileSync(
  MANIFEST,
  `version: 1
services:
  customer_profile:
    database: \${CUSTOMER_PROFILE_DATABASE_URL}
    owns: [customer]
  support_contract:
    database: \${SUPPORT_CONTRACT_DATABASE_URL}
    owns: [contract]
  billing_payment:
    database: \${BILLING_PAYMENT_DATABASE_URL}
    owns: [billing, customer_copy]
  audit:
    database: \${AUDIT_DATABASE_URL}
    owns: [audit_log]
shared:
  audit_log: { ownership: common, owner: audit, writers: [support_contract] }
copies:
  - { of: customer_profile.customer, in: billing_payment.customer_copy, key: id }
`,
);
const ENV = {
  CUSTOMER_PROFILE_DATABASE_URL: urlOf('customer-profile'),
  SUPPORT_CONTRACT_DATABASE_URL: urlOf('support-contract'),
  BILLING_PAYMENT_DATABASE_URL: urlOf('billing-payment'),
  AUDIT_DATABASE_URL: urlOf('audit'),
};

/** One service of the scenario: its own database, outbox, relay and consumers. */
interface Service {
  readonly storage: Storage;
  readonly outbox: ReturnType<typeof createOutbox>;
  readonly relay: Relay;
  subscribe(consumer: string, type: string, handler: MessageHandler): Promise<Consumer>;
}

async function startService(name: string, transport: Transport): Promise<Service> {
  const storage = createSqliteStorage({ path: join(dir, `${name}.db`) });
  await storage.migrate();
  const relay = createRelay({ storage, transport, pollIntervalMs: 10 });
  await relay.start();
  const inbox = createInbox({ storage, transport });
  return {
    storage,
    outbox: createOutbox({ storage, source: name }),
    relay,
    subscribe: (consumer, type, handler) =>
      inbox.subscribe({ consumer, types: [type], retry: { maxAttempts: 1 }, autoRedrive: false }, handler),
  };
}

const applied = async (service: Service) =>
  (await service.storage.evidence.receipts(new Date(0), 1000)).filter((r) => r.outcome === 'applied').length;

/** The traffic: each service in this process, through one SQL log in its own file. */
async function runTraffic(): Promise<void> {
  const broker = createSqliteStorage({ path: join(dir, 'broker.db') });
  await broker.migrate();
  const transport = createSqlLogTransport({ storage: broker, pollIntervalMs: 10 });
  const [profile, support, billing, audit] = await Promise.all(
    ['customer-profile', 'support-contract', 'billing-payment', 'audit'].map((name) =>
      startService(name, transport),
    ),
  );
  const services = [profile!, support!, billing!, audit!];
  const consumers = [
    await support!.subscribe('support-contract', 'customer.unsubscribed', (message, tx) =>
      support!.outbox
        .append(tx, [{ type: 'audit.recorded', key: message.subject, data: {}, causationId: message.id }])
        .then(() => undefined),
    ),
    await billing!.subscribe('billing-payment', 'customer.unsubscribed', async (message, tx) => {
      if (UNBILLABLE.has(message.subject)) throw new TerminalError('the payment gateway refuses this card');
      await billing!.outbox.append(tx, [
        { type: 'billing.charged', key: message.subject, data: {}, causationId: message.id },
      ]);
    }),
    await profile!.subscribe('customer-profile', 'billing.charged', async () => {}),
    await audit!.subscribe('audit', 'audit.recorded', async () => {}),
  ];
  for (let i = 0; i < CUSTOMERS; i += 1) {
    await profile!.storage.transaction((tx) =>
      profile!.outbox.append(tx, [{ type: 'customer.unsubscribed', key: `c-${i}`, data: {} }]),
    );
  }
  try {
    await waitFor(
      'every message applied or dead-lettered',
      async () =>
        (await applied(support!)) === CUSTOMERS &&
        (await applied(audit!)) === CUSTOMERS &&
        (await applied(billing!)) === CUSTOMERS - UNBILLABLE.size &&
        (await applied(profile!)) === CUSTOMERS - UNBILLABLE.size &&
        (await billing!.storage.evidence.failures(new Date(0), 100)).length === UNBILLABLE.size,
      15_000,
    );
  } finally {
    for (const consumer of consumers) await consumer.stop();
    for (const service of services) await service.relay.stop();
    await transport.close();
    for (const service of services) await service.storage.close();
    await broker.close();
  }
}

interface Pair {
  services: string[];
  score: number;
  recommendation: string;
  reasons: string[];
  missingEvidence: string[];
  evidence: { flows: { from: string; to: string; applied: number; chained: number; failures: number }[] };
}

const coupling = (args: readonly string[], env: Record<string, string> = ENV) =>
  runConverge(['ownership', 'coupling', '-f', MANIFEST, ...args], env);
const pairOf = (pairs: Pair[], a: string, b: string) =>
  pairs.find((pair) => pair.services.includes(a) && pair.services.includes(b));

beforeAll(runTraffic, 30_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// Read-only runs of separate processes: side by side.
describe.concurrent('converge ownership coupling', () => {
  it('ranks the pair with shared transactions, chains and failures first, with consolidation and its reasons', async () => {
    const run = await coupling([]);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const [first, ...rest] = run.stdout.split('\n\n');
    expect(first).toMatch(/^billing_payment ↔ customer_profile {3}score 0\.\d\d {3}consolidation\n/);
    expect(first).toContain(
      "80% of customer_profile's messages (8) are applied by billing_payment: each of those business transactions is eventually consistent (BASE), not atomic; 8 went on as new messages of billing_payment.",
    );
    expect(first).toContain('2 failures on the way (dead letters, retries): 11.1% of deliveries.');
    expect(first).toContain('Consider consolidating billing_payment and customer_profile');
    expect(rest.join('\n\n')).toMatch(
      /billing_payment ↔ support_contract {3}score 0\.00 {3}keep-split\n {2}- No message between them was recorded in the period\./,
    );
  });

  it('prints the pairs with their evidence as JSON', async () => {
    const run = await coupling(['--format', 'json', '--since', '12h']);
    expect(run.code).toBe(0);
    const report = JSON.parse(run.stdout) as { since: string; services: unknown[]; pairs: Pair[] };
    expect(report.since).toBe('12h');
    // Receipts count every message of the log the consumers saw, of their types or not.
    expect(report.services).toContainEqual(
      expect.objectContaining({
        service: 'billing_payment',
        database: ENV.BILLING_PAYMENT_DATABASE_URL,
        produced: CUSTOMERS - UNBILLABLE.size,
        failures: UNBILLABLE.size,
      }),
    );
    expect(report.pairs).toHaveLength(6);
    expect(report.pairs[0]).toMatchObject({
      services: ['billing_payment', 'customer_profile'],
      recommendation: 'consolidation',
      missingEvidence: [],
    });
    expect(report.pairs[0]!.score).toBeGreaterThanOrEqual(0.65);
    expect(report.pairs[0]!.evidence.flows).toContainEqual(
      expect.objectContaining({
        from: 'customer_profile',
        to: 'billing_payment',
        applied: 8,
        chained: 8,
        failures: 2,
      }),
    );
    // Audit is common ownership, fire and forget: never a reason to merge.
    expect(pairOf(report.pairs, 'audit', 'support_contract')).toMatchObject({ recommendation: 'keep-split' });
    expect(pairOf(report.pairs, 'audit', 'support_contract')!.score).toBeLessThan(0.35);
    const unrelated = pairOf(report.pairs, 'billing_payment', 'support_contract')!;
    expect([unrelated.recommendation, unrelated.score]).toEqual(['keep-split', 0]);
  });

  it('writes an ADR draft with -o', async () => {
    const adr = join(dir, 'adr.md');
    const run = await coupling(['--format', 'markdown', '-o', adr]);
    expect(run.code).toBe(0);
    expect(run.stdout).toBe('');
    expect(run.stderr).toBe(`converge: wrote the report to ${adr}\n`);
    const text = readFileSync(adr, 'utf8');
    expect(text).toMatch(
      /^# ADR: Service boundaries: billing_payment and customer_profile \(consolidation\)\n/,
    );
    for (const heading of ['Status: proposed', '## Context', '## Decision', '## Consequences'])
      expect(text).toContain(heading);
    expect(text).toContain('| billing_payment ↔ customer_profile | 0.');
  });

  it('warns about a database it cannot read, masking its password, and says which pairs lack evidence', async () => {
    const run = await coupling(['--json'], {
      ...ENV,
      AUDIT_DATABASE_URL: 'postgres://audit:s3cret-pw@127.0.0.1:1/audit',
      SUPPORT_CONTRACT_DATABASE_URL: urlOf('nowhere'),
    });
    expect(run.code).toBe(0);
    expect(run.stderr).not.toContain('s3cret-pw');
    expect(run.stderr).toMatch(
      /^converge: No evidence from service 'support_contract': the SQLite file '.*nowhere\.db' does not exist\. /m,
    );
    expect(run.stderr).toMatch(
      /^converge: No evidence from service 'audit': Cannot connect to database postgres:\/\/audit:\*\*\*@127\.0\.0\.1:1\/audit: /m,
    );
    expect(existsSync(join(dir, 'nowhere.db'))).toBe(false);
    const { pairs } = JSON.parse(run.stdout) as { pairs: Pair[] };
    expect(pairOf(pairs, 'audit', 'customer_profile')!.missingEvidence).toEqual(['audit']);
    expect(pairOf(pairs, 'audit', 'customer_profile')!.reasons[0]).toBe(
      "Evidence missing: audit's database could not be read, so these figures count only what customer_profile recorded; the score may be too low.",
    );
    expect(pairOf(pairs, 'billing_payment', 'customer_profile')!.missingEvidence).toEqual([]);
  });

  it('fails when no database can be read: exit 1', async () => {
    const run = await coupling([], {});
    expect(run.stderr).toContain(
      `converge: No evidence from service 'audit': Service 'audit': database URL '\${AUDIT_DATABASE_URL}' needs the environment variable AUDIT_DATABASE_URL, which is not set`,
    );
    expect(run.stderr).toMatch(/No service database could be read/);
    expect(run.stdout).toBe('');
    expect(run.code).toBe(1);
  });

  it.each([
    [['--since', 'a week'], /--since 'a week' is not a duration; use a number and s, m, h or d/],
    [['--json', '--format', 'markdown'], /--json and --format markdown ask for two reports/],
    [['--database', 'mysql://app:pw@db/app'], /Database URL 'mysql:\/\/app:\*\*\*@db\/app' cannot be used/],
    [['-o', join(dir, 'missing-dir', 'adr.md')], /report cannot be written to .* \(ENOENT\)/],
  ])('rejects %j: exit 2', async (args, message) => {
    const run = await coupling(args);
    expect(run.stderr).toMatch(message);
    expect(run.code).toBe(2);
  });
});

describe('converge ownership coupling --database (services sharing one database)', () => {
  const shared = join(dir, 'shared.db');
  const manifest = join(dir, 'shared.yaml');

  beforeAll(async () => {
    writeFileSync(
      manifest,
      `version: 1
services:
  orders:
    database: \${ORDERS_DATABASE_URL}
    owns: [orders]
  payments:
    database: \${PAYMENTS_DATABASE_URL}
    owns: [payment]
`,
    );
    const storage = createSqliteStorage({ path: shared });
    await storage.migrate();
    const transport = createSqlLogTransport({ storage, pollIntervalMs: 10 });
    const relay = createRelay({ storage, transport, pollIntervalMs: 10 });
    const orders = createOutbox({ storage, source: 'orders' });
    const payments = createOutbox({ storage, source: 'payments' });
    const consumer = await createInbox({ storage, transport }).subscribe(
      { consumer: 'payments-orders', types: ['order.placed'] },
      (message, tx) =>
        payments
          .append(tx, [{ type: 'payment.taken', key: message.subject, data: {}, causationId: message.id }])
          .then(() => undefined),
    );
    await relay.start();
    for (const key of ['o-1', 'o-2', 'o-3'])
      await storage.transaction((tx) => orders.append(tx, [{ type: 'order.placed', key, data: {} }]));
    try {
      await waitFor(
        'three payments',
        async () => (await storage.evidence.produced(new Date(0), 10)).length === 6,
      );
    } finally {
      await consumer.stop();
      await relay.stop();
      await transport.close();
      await storage.close();
    }
  }, 30_000);

  it("tells the services apart by source and consumer, without the manifest's variables", async () => {
    const run = await runConverge([
      'ownership',
      'coupling',
      '-f',
      manifest,
      '--database',
      `sqlite:${shared}`,
      '--json',
    ]);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const { pairs } = JSON.parse(run.stdout) as { pairs: Pair[] };
    expect(pairs[0]!.evidence.flows).toContainEqual(
      expect.objectContaining({ from: 'orders', to: 'payments', applied: 3, chained: 3, failures: 0 }),
    );
  });
});
