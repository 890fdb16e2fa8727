import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { newMessageId } from '../../core/ids.js';
import type { DeadLetter, ParkedMessage } from '../../ports/inbox-store.js';
import type { Storage } from '../../ports/storage.js';
import { createPostgresTestDatabase } from '../../testing/postgres-test-database.js';
import { waitFor } from '../../testing/wait-for.js';
import { createPostgresStorage } from './postgres-storage.js';

const db = await createPostgresTestDatabase('postgres inbox store');

function parked(key: string, sequence: number, overrides: Partial<ParkedMessage> = {}): ParkedMessage {
  return {
    messageId: newMessageId(),
    source: 'orders',
    key,
    sequence,
    type: 'order.placed',
    body: `{"key":"${key}","n":${sequence}}`,
    attempts: 0,
    nextAttemptAt: null,
    lastError: null,
    firstFailedAt: null,
    ...overrides,
  };
}

describe.skipIf(!db)('PostgresInboxStore', () => {
  let storage: Storage;

  beforeAll(async () => {
    storage = createPostgresStorage({ connectionString: db!.url, applicationName: 'converge-inbox-test' });
    await storage.migrate();
  });
  afterAll(async () => {
    await storage?.close();
    await db?.drop();
  });
  beforeEach(async () => {
    await storage.transaction((tx) =>
      tx.execute(
        'TRUNCATE converge.inbox_key, converge.inbox_receipt, converge.inbox_parked, converge.dead_letter_audit, converge.dead_letter',
      ),
    );
  });

  it('lockKey serializes two deliveries of one new key: the second sees what the first committed', async () => {
    let releaseFirst!: () => void;
    const firstHolds = new Promise<void>((resolve) => {
      releaseFirst = resolve;
    });
    let firstLocked!: () => void;
    const locked = new Promise<void>((resolve) => {
      firstLocked = resolve;
    });
    const order: string[] = [];
    const first = storage.transaction(async (tx) => {
      const state = await storage.inbox.lockKey(tx, 'billing', 'orders', 'k');
      order.push(`first saw ${state.lastSequence}`);
      firstLocked();
      await firstHolds;
      await storage.inbox.setKey(tx, 'billing', 'orders', 'k', {
        lastSequence: state.lastSequence + 1,
        blockedBy: null,
      });
      order.push('first committed');
    });
    await locked;
    const second = storage.transaction(async (tx) => {
      const state = await storage.inbox.lockKey(tx, 'billing', 'orders', 'k');
      order.push(`second saw ${state.lastSequence}`);
    });
    await waitFor('the second delivery to wait for the key’s row lock', async () => {
      const [row] = await storage.transaction((tx) =>
        tx.query<{ n: string }>(
          "SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'",
        ),
      );
      return Number(row?.n) === 1;
    });
    expect(order).toEqual(['first saw 0']);
    releaseFirst();
    await Promise.all([first, second]);
    expect(order).toEqual(['first saw 0', 'first committed', 'second saw 1']);
  });

  it('receipts are per consumer; a second receipt of one message is a duplicate', async () => {
    const id = newMessageId();
    const receipt = {
      messageId: id,
      source: 'orders',
      key: 'k',
      sequence: 1,
      outcome: 'applied' as const,
      payloadHash: null,
    };
    await storage.transaction(async (tx) => {
      expect(await storage.inbox.recordReceipt(tx, 'billing', receipt)).toBe('recorded');
      expect(await storage.inbox.recordReceipt(tx, 'billing', { ...receipt, outcome: 'ignored' })).toBe(
        'duplicate',
      );
      expect(await storage.inbox.recordReceipt(tx, 'shipping', receipt)).toBe('recorded');
      expect(await storage.inbox.hasReceipt(tx, 'billing', id)).toBe(true);
      expect(await storage.inbox.hasReceipt(tx, 'billing', newMessageId())).toBe(false);
    });
    expect(await storage.inbox.counts('billing')).toEqual({ receipts: 1, parked: 0, deadLetters: 0 });
  });

  it('dueParked returns only next-in-line, unblocked, due messages, oldest first', async () => {
    const now = new Date();
    const nextOfB = parked('b', 1, {
      attempts: 2,
      nextAttemptAt: new Date(now.getTime() - 1_000),
      lastError: 'Error: down',
      firstFailedAt: now,
    });
    const nextOfA = parked('a', 3);
    const laterOfA = parked('a', 4);
    const notYetDue = parked('c', 1, { attempts: 1, nextAttemptAt: new Date(now.getTime() + 60_000) });
    const blocked = parked('d', 1);
    await storage.transaction(async (tx) => {
      await storage.inbox.setKey(tx, 'billing', 'orders', 'a', { lastSequence: 2, blockedBy: null });
      await storage.inbox.setKey(tx, 'billing', 'orders', 'b', { lastSequence: 0, blockedBy: null });
      await storage.inbox.setKey(tx, 'billing', 'orders', 'c', { lastSequence: 0, blockedBy: null });
      await storage.inbox.setKey(tx, 'billing', 'orders', 'd', { lastSequence: 0, blockedBy: 'dead-1' });
      expect(await storage.inbox.park(tx, 'billing', nextOfB)).toBe('parked');
    });
    await storage.transaction(async (tx) => {
      for (const m of [nextOfA, laterOfA, notYetDue, blocked])
        expect(await storage.inbox.park(tx, 'billing', m)).toBe('parked');
      expect(await storage.inbox.park(tx, 'billing', nextOfA)).toBe('duplicate');
    });
    const due = await storage.inbox.dueParked('billing', now, 10);
    expect(due).toEqual([nextOfB, nextOfA]);
    expect(await storage.inbox.dueParked('shipping', now, 10)).toEqual([]);
    expect(await storage.inbox.dueParked('billing', now, 1)).toHaveLength(1);
  });

  it('finds, updates and deletes a parked message; two messages claiming one sequence can both be parked', async () => {
    const original = parked('k', 5);
    const impostor = parked('k', 5);
    await storage.transaction(async (tx) => {
      await storage.inbox.park(tx, 'billing', original);
    });
    await storage.transaction(async (tx) => {
      expect(await storage.inbox.park(tx, 'billing', impostor)).toBe('parked');
    });
    const retryAt = new Date(Date.now() + 5_000);
    await storage.transaction(async (tx) => {
      expect((await storage.inbox.findParked(tx, 'billing', 'orders', 'k', 5))?.messageId).toBe(
        original.messageId,
      );
      await storage.inbox.updateParked(tx, 'billing', original.messageId, {
        attempts: 3,
        nextAttemptAt: retryAt,
        lastError: 'TypeError: boom',
        firstFailedAt: retryAt,
      });
    });
    const found = await storage.transaction((tx) =>
      storage.inbox.findParked(tx, 'billing', 'orders', 'k', 5),
    );
    expect(found).toEqual({
      ...original,
      attempts: 3,
      nextAttemptAt: retryAt,
      lastError: 'TypeError: boom',
      firstFailedAt: retryAt,
    });
    await storage.transaction((tx) => storage.inbox.deleteParked(tx, 'billing', original.messageId));
    const remaining = await storage.transaction((tx) =>
      storage.inbox.findParked(tx, 'billing', 'orders', 'k', 5),
    );
    expect(remaining?.messageId).toBe(impostor.messageId);
    expect(
      await storage.transaction((tx) => storage.inbox.findParked(tx, 'billing', 'orders', 'k', 6)),
    ).toBeNull();
  });

  it('stores any dead letter, even without an id, with a non-UUID id, or with NUL characters', async () => {
    const when = new Date('2024-05-01T10:00:00.123Z');
    const base: DeadLetter = {
      consumer: 'billing',
      messageId: null,
      source: null,
      type: null,
      key: null,
      sequence: null,
      reason: 'MALFORMED',
      errorClass: 'InvalidEnvelope',
      errorMessage: 'the body is not JSON',
      attempts: 0,
      policy: 'skip',
      body: 'not json at all',
      fingerprint: 'f',
      destination: 'billing',
      headers: { traceparent: 'x\u0000y' },
      bodySha256: 'sha',
      bodyBytes: 15,
      bodyTruncated: false,
      firstFailedAt: when,
      lastFailedAt: when,
    };
    const badId = {
      ...base,
      messageId: 'definitely-not-a-uuid',
      source: 'orders',
      key: 'k',
      sequence: 9,
      reason: 'UNKNOWN_TYPE' as const,
    };
    const withNul = { ...base, body: 'bin\u0000ary', key: 'k\u0000' };
    await storage.transaction(async (tx) => {
      await storage.inbox.addDeadLetter(tx, base);
      await storage.inbox.addDeadLetter(tx, badId);
      await storage.inbox.addDeadLetter(tx, withNul);
      await storage.inbox.addDeadLetter(tx, { ...base, consumer: 'shipping' });
    });
    const letters = await storage.inbox.listDeadLetters('billing');
    expect(letters.every((l) => l.status === 'open')).toBe(true);
    expect(letters.map(({ id: _id, status: _status, ...rest }) => rest)).toEqual([
      base,
      badId,
      { ...withNul, body: 'bin\uFFFDary', key: 'k\uFFFD' },
    ]);
    expect(letters.every((l) => typeof l.id === 'number')).toBe(true);
    expect((await storage.inbox.listDeadLetters()).map((l) => l.consumer)).toEqual([
      'billing',
      'billing',
      'billing',
      'shipping',
    ]);
    expect(await storage.inbox.counts('billing')).toEqual({ receipts: 0, parked: 0, deadLetters: 3 });
  });
});
