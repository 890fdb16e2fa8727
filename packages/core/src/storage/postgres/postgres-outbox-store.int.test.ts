import pg from 'pg';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DEFAULT_MAX_MESSAGE_BYTES, draftToEnvelope, serializeEnvelope } from '../../core/envelope.js';
import type { Storage, Transaction } from '../../ports/storage.js';
import { createPostgresTestDatabase } from '../../testing/postgres-test-database.js';
import { waitFor } from '../../testing/wait-for.js';
import { createPostgresStorage } from './postgres-storage.js';

const db = await createPostgresTestDatabase('postgres outbox store');

function message(key: string, sequence: number, data: unknown = { key, sequence }) {
  const envelope = {
    ...draftToEnvelope({ type: 'order.placed', key, data }, 0, 'orders', new Date()),
    sequence,
  };
  return { envelope, body: serializeEnvelope(envelope, 0, DEFAULT_MAX_MESSAGE_BYTES) };
}

/** A promise with its resolve function, to hold a transaction open at a chosen point. */
function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { promise, open };
}

describe.skipIf(!db)('PostgresOutboxStore', () => {
  let storage: Storage;
  let admin: pg.Client;

  const append = async (tx: Transaction, key: string, count = 1) => {
    const firstSequence = await storage.outbox.reserveSequence(tx, 'orders', key, count);
    const messages = Array.from({ length: count }, (_, i) => message(key, firstSequence + i));
    await storage.outbox.insert(tx, messages);
    return messages;
  };

  beforeAll(async () => {
    storage = createPostgresStorage({
      connectionString: db!.url,
      max: 24,
      applicationName: 'converge-outbox-test',
    });
    await storage.migrate();
    admin = new pg.Client({ connectionString: db!.url });
    await admin.connect();
  });
  afterAll(async () => {
    await admin?.end();
    await storage?.close();
    await db?.drop();
  });
  beforeEach(async () => {
    await admin.query('TRUNCATE converge.outbox, converge.outbox_sequence');
  });

  it('inserts a batch in order, body byte-identical, with consecutive sequences', async () => {
    const data = { text: 'ünïcödé ✓ "quoted"', nested: { b: 1, a: [1, 2.5, null] }, spaces: '  ' };
    const appended = await storage.transaction(async (tx) => {
      const firstSequence = await storage.outbox.reserveSequence(tx, 'orders', 'k', 3);
      const batch = [0, 1, 2].map((i) => message('k', firstSequence + i, { ...data, i }));
      await storage.outbox.insert(tx, batch);
      return batch;
    });
    const claim = await storage.outbox.claim({ relayId: 'r1', limit: 10, leaseMs: 30_000 });
    expect(claim?.rows.map((r) => r.body)).toEqual(appended.map((m) => m.body));
    expect(claim?.rows.map((r) => r.envelope.sequence)).toEqual([1, 2, 3]);
    expect(claim?.rows.every((r) => typeof r.position === 'number')).toBe(true);
    await claim?.markPublished();
  });

  it('two concurrent claims get disjoint rows; released rows are claimable again; marked rows are not', async () => {
    await storage.transaction(async (tx) => {
      for (let i = 0; i < 6; i += 1) await append(tx, `k${i}`);
    });
    const first = await storage.outbox.claim({ relayId: 'r1', limit: 4, leaseMs: 30_000 });
    const second = await storage.outbox.claim({ relayId: 'r2', limit: 4, leaseMs: 30_000 });
    expect(first?.rows).toHaveLength(4);
    expect(second?.rows).toHaveLength(2);
    const firstPositions = first!.rows.map((r) => r.position);
    const secondPositions = second!.rows.map((r) => r.position);
    expect(secondPositions.filter((p) => firstPositions.includes(p))).toEqual([]);
    expect(await storage.outbox.claim({ relayId: 'r3', limit: 4, leaseMs: 30_000 })).toBeNull();

    await first!.release();
    const third = await storage.outbox.claim({ relayId: 'r3', limit: 10, leaseMs: 30_000 });
    expect(third?.rows.map((r) => r.position)).toEqual(firstPositions);
    await third!.markPublished();
    await second!.markPublished();
    expect(await storage.outbox.claim({ relayId: 'r1', limit: 10, leaseMs: 30_000 })).toBeNull();
    expect(await storage.outbox.status()).toMatchObject({ backlog: 0, publishedRetained: 6 });
  });

  it('a claim whose connection is killed releases its rows, and marking it then reports RELAY_LEASE_LOST', async () => {
    await storage.transaction((tx) => append(tx, 'killed'));
    const doomed = await storage.outbox.claim({ relayId: 'r1', limit: 10, leaseMs: 30_000 });
    expect(doomed?.rows).toHaveLength(1);
    const { rows } = await admin.query(
      `SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity
       WHERE datname = current_database() AND state = 'idle in transaction' AND application_name = 'converge-outbox-test'`,
    );
    expect(rows).toHaveLength(1);
    const taken = (await waitFor('the killed claim’s rows to be claimable', () =>
      storage.outbox.claim({ relayId: 'r2', limit: 10, leaseMs: 30_000 }),
    ))!;
    expect(taken.rows.map((r) => r.position)).toEqual(doomed!.rows.map((r) => r.position));
    await expect(doomed!.markPublished()).rejects.toMatchObject({ code: 'RELAY_LEASE_LOST' });
    await taken.markPublished();
    expect((await storage.outbox.status()).backlog).toBe(0);
  });

  it('a claim held idle beyond leaseMs ends, and its rows go to another relay', async () => {
    await storage.transaction((tx) => append(tx, 'hung'));
    const hung = await storage.outbox.claim({ relayId: 'r1', limit: 10, leaseMs: 200 });
    expect(hung?.rows).toHaveLength(1);
    const taken = (await waitFor('the hung claim to expire', () =>
      storage.outbox.claim({ relayId: 'r2', limit: 10, leaseMs: 30_000 }),
    ))!;
    expect(taken.rows.map((r) => r.envelope.subject)).toEqual(['hung']);
    await expect(hung!.markPublished()).rejects.toMatchObject({ code: 'RELAY_LEASE_LOST' });
    await taken.markPublished();
  });

  it('no commit-order gap: a lower position that commits later is claimed later, not skipped', async () => {
    const holdA = gate();
    const aInserted = gate();
    let positionOfA = 0;
    const transactionA = storage.transaction(async (tx) => {
      await append(tx, 'a');
      const [row] = await tx.query<{ p: string }>(
        "SELECT position AS p FROM converge.outbox WHERE key = 'a'",
      );
      positionOfA = Number(row?.p);
      aInserted.open();
      await holdA.promise;
    });
    await aInserted.promise;
    await storage.transaction((tx) => append(tx, 'b'));

    const between = await storage.outbox.claim({ relayId: 'r1', limit: 10, leaseMs: 30_000 });
    expect(between?.rows.map((r) => r.envelope.subject)).toEqual(['b']);
    expect(positionOfA).toBeLessThan(between!.rows[0]!.position);
    await between!.markPublished();

    holdA.open();
    await transactionA;
    const later = await storage.outbox.claim({ relayId: 'r1', limit: 10, leaseMs: 30_000 });
    expect(later?.rows.map((r) => [r.envelope.subject, r.position])).toEqual([['a', positionOfA]]);
    await later!.markPublished();
  });

  it('16 concurrent producers of one key get gap-free sequences, in commit (= position) order', async () => {
    const counts = Array.from({ length: 16 }, (_, i) => (i % 3) + 1);
    const batches = await Promise.all(
      counts.map((count) => storage.transaction((tx) => append(tx, 'hot', count))),
    );
    const sequences = batches.flat().map((m) => m.envelope.sequence);
    const total = counts.reduce((a, b) => a + b, 0);
    expect([...sequences].sort((a, b) => a - b)).toEqual(Array.from({ length: total }, (_, i) => i + 1));

    const { rows } = await admin.query<{ sequence: string }>(
      "SELECT sequence FROM converge.outbox WHERE key = 'hot' ORDER BY position",
    );
    expect(rows.map((r) => Number(r.sequence))).toEqual(Array.from({ length: total }, (_, i) => i + 1));
  });

  it('status counts backlog and retained rows; pruning removes only published rows older than the cut-off', async () => {
    await storage.transaction(async (tx) => {
      await append(tx, 'p1');
      await append(tx, 'p2');
    });
    const before = await storage.outbox.status();
    expect(before.backlog).toBe(2);
    expect(before.oldestUnpublishedAt).toBeInstanceOf(Date);
    const claim = await storage.outbox.claim({ relayId: 'r1', limit: 1, leaseMs: 30_000 });
    await claim!.markPublished();
    expect(await storage.outbox.prunePublished(new Date(Date.now() - 3_600_000), 100)).toBe(0);
    expect(await storage.outbox.prunePublished(new Date(Date.now() + 3_600_000), 100)).toBe(1);
    expect(await storage.outbox.status()).toMatchObject({ backlog: 1, publishedRetained: 0 });
  });

  it('prunes at most `limit` rows per call', async () => {
    await storage.transaction((tx) => append(tx, 'many', 5));
    await (await storage.outbox.claim({ relayId: 'r1', limit: 10, leaseMs: 30_000 }))!.markPublished();
    const cutoff = new Date(Date.now() + 3_600_000);
    expect(await storage.outbox.prunePublished(cutoff, 2)).toBe(2);
    expect(await storage.outbox.prunePublished(cutoff, 10)).toBe(3);
  });
});
