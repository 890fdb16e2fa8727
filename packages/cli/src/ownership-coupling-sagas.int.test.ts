/**
 * `converge ownership coupling` as a real process, on sagas a real orchestrator ran: Customer
 * Profile orchestrates `unsubscribe` (Support Contract's step, then Billing Payment's) in its own
 * database — a SQLite file, and PostgreSQL when it is running — with in-process step actions.
 * Billing refuses two customers (their contract step is compensated) and a third whose contract
 * cannot be reinstated either (the saga waits for a person). Before the sagas ran the pair keeps
 * split; after, the report counts the sagas that span it and recommends consolidation, with the
 * saga figures as its reasons.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  createOrchestrator,
  defineSaga,
  type SagaStatus,
  type Storage,
  silentLogger,
  TerminalError,
} from '@converge/core';
import { createPostgresStorage } from '@converge/core/postgres';
import { createSqliteStorage } from '@converge/core/sqlite';
import { createPostgresTestDatabase, type PostgresTestDatabase, waitFor } from '@converge/core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runConverge } from '../test/run-converge.js';

const dir = mkdtempSync(join(tmpdir(), 'converge-coupling-sagas-'));
const CUSTOMERS = 10;
/** Billing Payment refuses them: their contract step is undone. */
const UNBILLABLE = new Set(['c-7', 'c-8', 'c-9']);
/** Their contract cannot be reinstated either: the saga waits for a person. */
const STUCK = 'c-9';

const unsubscribe = defineSaga('unsubscribe', 1)
  .input<{ customer: string }>()
  .step('contract', {
    service: 'support_contract',
    action: ({ input }) => ({ contract: `k-${input.customer}` }),
    compensate: ({ input }) => {
      if (input.customer === STUCK) throw new TerminalError('the contract was archived meanwhile');
      return null;
    },
    compensationRetry: { maxAttempts: 1 },
  })
  .step('billing', {
    service: 'billing_payment',
    action: ({ input }) => {
      if (UNBILLABLE.has(input.customer)) throw new TerminalError('the payment gateway refuses this card');
      return { charged: true };
    },
  })
  .build();

const sqliteUrl = (service: string) => `sqlite:${join(dir, `${service}.db`)}`;

/** Each service of the manifest and the table it owns. */
const OWNS = {
  customer_profile: 'customer',
  support_contract: 'contract',
  billing_payment: 'billing',
  audit: 'audit_log',
} as const;

/** A manifest naming each service's database: its own SQLite file, Customer Profile's `profileUrl`. */
function manifestFor(name: string, profileUrl: string): string {
  const file = join(dir, `${name}.yaml`);
  const services = Object.entries(OWNS).map(([service, table]) => {
    const url = service === 'customer_profile' ? profileUrl : sqliteUrl(service);
    return `  ${service}:\n    database: '${url}'\n    owns: [${table}]`;
  });
  const shared = '  audit_log: { ownership: common, owner: audit, writers: [support_contract] }';
  writeFileSync(file, ['version: 1', 'services:', ...services, 'shared:', shared, ''].join('\n'));
  return file;
}

/** Runs one saga per customer on `storage` until each is over or waits for a person. */
async function runSagas(storage: Storage): Promise<void> {
  const orchestrator = createOrchestrator({
    storage,
    definitions: [unsubscribe],
    pollIntervalMs: 20,
    logger: silentLogger,
  });
  await orchestrator.start();
  try {
    const ids: string[] = [];
    for (let i = 0; i < CUSTOMERS; i += 1) {
      ids.push((await orchestrator.startSaga(unsubscribe, { customer: `c-${i}` })).sagaId);
    }
    const settled: ReadonlySet<SagaStatus> = new Set(['completed', 'compensated', 'needs-attention']);
    await waitFor(
      'every saga completed, compensated or waiting for a person',
      async () => {
        const records = await Promise.all(ids.map((id) => storage.sagas.get(id)));
        return records.every((record) => record !== undefined && settled.has(record.status));
      },
      15_000,
    );
  } finally {
    await orchestrator.stop();
  }
}

interface Report {
  services: { service: string; sagas: number }[];
  pairs: {
    services: string[];
    score: number;
    recommendation: string;
    reasons: string[];
    evidence: {
      sagas: {
        together: number;
        compensated: number;
        neededAttention: number;
        orchestrators: string[];
        windowMs: { samples: number };
      };
    };
  }[];
}

async function coupling(manifest: string): Promise<Report> {
  const run = await runConverge(['ownership', 'coupling', '-f', manifest, '--json']);
  expect(run.stderr).toBe('');
  expect(run.code).toBe(0);
  return JSON.parse(run.stdout) as Report;
}

const pairOf = (report: Report, a: string, b: string) =>
  report.pairs.find((pair) => pair.services.includes(a) && pair.services.includes(b))!;

let postgres: PostgresTestDatabase | null = null;

beforeAll(async () => {
  for (const service of ['support_contract', 'billing_payment', 'audit']) {
    const storage = createSqliteStorage({ path: join(dir, `${service}.db`) });
    await storage.migrate();
    await storage.close();
  }
  postgres = await createPostgresTestDatabase('converge ownership coupling with sagas on PostgreSQL');
}, 30_000);

afterAll(async () => {
  await postgres?.drop();
  rmSync(dir, { recursive: true, force: true });
});

const backends = [
  {
    name: 'SQLite',
    open: () => ({
      url: sqliteUrl('customer_profile'),
      storage: createSqliteStorage({ path: join(dir, 'customer_profile.db') }),
    }),
  },
  {
    name: 'PostgreSQL',
    open: () =>
      postgres === null
        ? null
        : { url: postgres.url, storage: createPostgresStorage({ connectionString: postgres.url }) },
  },
];

describe.each(backends)('converge ownership coupling with sagas orchestrated on $name', (backend) => {
  it('counts the sagas spanning each pair and turns keep-split into consolidation, with the saga figures as reasons', async (context) => {
    const opened = backend.open();
    if (opened === null) return context.skip();
    const { url, storage } = opened;
    const manifest = manifestFor(backend.name, url);
    try {
      await storage.migrate();
      const before = await coupling(manifest);
      expect(pairOf(before, 'billing_payment', 'support_contract')).toMatchObject({
        recommendation: 'keep-split',
        score: 0,
        evidence: { sagas: { together: 0 } },
      });

      await runSagas(storage);
      const after = await coupling(manifest);
      expect(after.services).toContainEqual(
        expect.objectContaining({ service: 'customer_profile', sagas: 10 }),
      );
      const pair = pairOf(after, 'billing_payment', 'support_contract');
      // The three services every saga spans rank above every pair with Audit (fire and forget).
      expect(after.pairs.slice(0, 3).flatMap((ranked) => ranked.services)).not.toContain('audit');
      expect(pair.evidence.sagas).toMatchObject({
        together: CUSTOMERS,
        compensated: 2,
        neededAttention: 1,
        orchestrators: ['customer_profile'],
        windowMs: { samples: CUSTOMERS - 1 },
      });
      expect(pair.recommendation).toBe('consolidation');
      expect(pair.score).toBeGreaterThanOrEqual(0.65);
      expect(pair.reasons).toContainEqual(
        expect.stringMatching(
          /^10 sagas span both \(100% of the sagas \w+ takes part in; orchestrated by customer_profile\): each is one business transaction split across them; 20% were compensated \(atomicity lost and repaired by hand-written compensations\); 1 needed a person\.$/,
        ),
      );
      // The orchestrator takes part in each of its sagas; Audit in none.
      expect(pairOf(after, 'customer_profile', 'support_contract').evidence.sagas.together).toBe(CUSTOMERS);
      expect(pairOf(after, 'audit', 'support_contract')).toMatchObject({
        recommendation: 'keep-split',
        evidence: { sagas: { together: 0 } },
      });
    } finally {
      await storage.close();
    }
  }, 60_000);
});
