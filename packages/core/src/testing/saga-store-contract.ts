/**
 * The contract every `SagaStore` adapter must keep, as a Vitest suite: idempotent starts, claims
 * that give each runnable saga to exactly one orchestrator, fencing that refuses every write of a
 * replaced holder and writes nothing for it, a gap-free transition log, and exact JSON.
 *
 * Concurrency cases use several connections when the backend declares `multipleConnections`;
 * otherwise their calls share one connection (SQLite's single writer serialises them anyway). The
 * clock is the test's: every call is given its `now`, so no test sleeps.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { newMessageId } from '../core/ids.js';
import type { SagaRecord, SagaStart, SagaStatus, SagaWrite } from '../ports/saga-store.js';
import type { Storage } from '../ports/storage.js';
import { describeSagaDurableWrites } from './saga-durable-write-contract.js';
import { describeSagaHeldStart } from './saga-held-start-contract.js';
import { describeSagaLeaseRenewal } from './saga-lease-renewal-contract.js';
import { describeSagaOrchestratorRegistry } from './saga-orchestrator-registry-contract.js';

/** A fresh, empty database for one test: its storage, more storages on it, and how to remove it. */
export type SagaStoreFactory = () => Promise<{
  readonly storage: Storage;
  /** Another storage on the same database with its own connections (closed by the suite). */
  readonly connect: () => Promise<Storage>;
  readonly cleanup: () => Promise<void>;
}>;

const T0 = Date.UTC(2031, 0, 1);
/** The test clock: `ms` after a fixed instant. */
const at = (ms: number): Date => new Date(T0 + ms);
const LEASE_MS = 1_000;

function sagaStart(overrides: Partial<SagaStart> = {}): SagaStart {
  return {
    id: newMessageId(),
    name: 'unsubscribe',
    version: 1,
    input: { customerId: 'c-1' },
    snapshot: { next: 'profile', done: [] },
    idempotencyKey: null,
    at: at(0),
    ...overrides,
  };
}

function sagaWrite(
  overrides: Partial<SagaWrite> = {},
  transition: Partial<SagaWrite['transition']> = {},
): SagaWrite {
  return {
    status: 'running',
    snapshot: { next: 'billing', done: ['profile'] },
    wakeAt: null,
    reason: null,
    at: at(100),
    ...overrides,
    transition: { kind: 'step-succeeded', step: 'profile', attempt: 1, detail: null, ...transition },
  };
}

/** Everything stored about one saga, to show a refused write changed nothing. */
async function stored(storage: Storage, id: string) {
  return { record: await storage.sagas.get(id), log: await storage.sagas.transitions(id) };
}

/** Registers the saga store contract suite. */
export function describeSagaStoreContract(name: string, factory: SagaStoreFactory): void {
  describe(`SagaStore contract: ${name}`, () => {
    const context = {} as { storage: Storage; others: Storage[]; peers: (n: number) => Promise<Storage[]> };
    let cleanup: () => Promise<void>;

    beforeEach(async () => {
      const made = await factory();
      cleanup = made.cleanup;
      context.storage = made.storage;
      context.others = [];
      await made.storage.migrate();
      context.peers = async (n) => {
        if (!made.storage.capabilities.multipleConnections) return Array(n).fill(made.storage);
        const opened = await Promise.all(Array.from({ length: n }, () => made.connect()));
        context.others.push(...opened);
        return opened;
      };
    });
    afterEach(async () => {
      for (const other of context.others) await other.close();
      await context.storage.close();
      await cleanup();
    });

    describeStart(context);
    describeSagaHeldStart(context);
    describeClaim(context);
    describeSagaLeaseRenewal(context);
    describeFencing(context);
    describeRecord(context);
    describeSagaDurableWrites(context);
    describeReads(context);
    describeSagaOrchestratorRegistry(context);
  });
}

interface Context {
  readonly storage: Storage;
  /** `n` storages on the same database (separate connections where the backend has them). */
  readonly peers: (n: number) => Promise<Storage[]>;
}

function describeStart(context: Context): void {
  describe('start', () => {
    it('records a running, runnable instance with its started transition', async () => {
      const start = sagaStart({ idempotencyKey: 'req-1' });
      const { record, created } = await context.storage.sagas.start(start);
      expect(created).toBe(true);
      const expected: SagaRecord = {
        id: start.id,
        name: 'unsubscribe',
        version: 1,
        status: 'running',
        idempotencyKey: 'req-1',
        input: start.input,
        snapshot: start.snapshot,
        wakeAt: null,
        reason: null,
        fencingToken: 0,
        leaseOwner: null,
        leaseExpiresAt: null,
        transitions: 1,
        createdAt: at(0),
        updatedAt: at(0),
      };
      expect(record).toEqual(expected);
      expect(await context.storage.sagas.get(start.id)).toEqual(expected);
      expect(await context.storage.sagas.transitions(start.id)).toEqual([
        {
          sagaId: start.id,
          seq: 1,
          kind: 'started',
          step: null,
          attempt: null,
          status: 'running',
          detail: null,
          fencingToken: 0,
          at: at(0),
        },
      ]);
    });

    it('a repeated idempotency key returns the existing instance and records nothing; keys are per saga name', async () => {
      const first = sagaStart({ idempotencyKey: 'req-1', input: { customerId: 'c-1' } });
      await context.storage.sagas.start(first);
      const repeat = sagaStart({ idempotencyKey: 'req-1', input: { customerId: 'other' }, at: at(50) });
      const again = await context.storage.sagas.start(repeat);
      expect(again.created).toBe(false);
      expect(again.record.id).toBe(first.id);
      expect(again.record.input).toEqual({ customerId: 'c-1' });
      expect(await context.storage.sagas.get(repeat.id)).toBeUndefined();
      expect(await context.storage.sagas.transitions(first.id)).toHaveLength(1);

      const otherName = await context.storage.sagas.start(
        sagaStart({ name: 'refund', idempotencyKey: 'req-1' }),
      );
      expect(otherName.created).toBe(true);
      const unkeyed = [sagaStart(), sagaStart()];
      for (const start of unkeyed) expect((await context.storage.sagas.start(start)).created).toBe(true);
      expect(await context.storage.sagas.list({})).toHaveLength(4);
    });

    it('concurrent starts with one key create exactly one instance', async () => {
      const storages = await context.peers(4);
      const results = await Promise.all(
        Array.from({ length: 12 }, (_, i) =>
          storages[i % storages.length]!.sagas.start(sagaStart({ idempotencyKey: 'same', input: { i } })),
        ),
      );
      expect(results.filter((result) => result.created)).toHaveLength(1);
      expect(new Set(results.map((result) => result.record.id)).size).toBe(1);
      expect(await context.storage.sagas.list({ name: 'unsubscribe' })).toHaveLength(1);
    });

    it("joins the caller's transaction: a rollback leaves no saga and no log, a commit keeps both", async () => {
      const { storage } = context;
      const rolledBack = sagaStart({ idempotencyKey: 'tx' });
      await expect(
        storage.transaction(async (tx) => {
          await storage.sagas.start(rolledBack, tx);
          throw new Error('business rule failed');
        }),
      ).rejects.toThrow('business rule failed');
      expect(await stored(storage, rolledBack.id)).toEqual({ record: undefined, log: [] });

      const committed = sagaStart({ idempotencyKey: 'tx' });
      const result = await storage.transaction((tx) => storage.sagas.start(committed, tx));
      expect(result.created).toBe(true);
      expect((await storage.sagas.get(committed.id))?.status).toBe('running');
      expect(await storage.sagas.transitions(committed.id)).toHaveLength(1);
    });
  });
}

function describeClaim(context: Context): void {
  describe('claim', () => {
    it('gives each runnable saga to exactly one of several concurrent claimers, with token 1', async () => {
      const ids = new Set<string>();
      for (let i = 0; i < 30; i += 1)
        ids.add((await context.storage.sagas.start(sagaStart({ at: at(i) }))).record.id);
      const claimers = await context.peers(4);
      const claimed = await Promise.all(
        claimers.map(async (storage, n) => {
          const mine = [];
          for (let round = 0; round < 50; round += 1) {
            const batch = await storage.sagas.claim(`orchestrator-${n}`, LEASE_MS, 3, at(1_000));
            if (batch.length === 0) break;
            mine.push(...batch.map((claim) => ({ ...claim, owner: `orchestrator-${n}` })));
          }
          return mine;
        }),
      );
      const all = claimed.flat();
      expect(all.map((claim) => claim.record.id).sort()).toEqual([...ids].sort());
      for (const claim of all) {
        expect(claim.fencingToken).toBe(1);
        expect(claim.record).toMatchObject({
          fencingToken: 1,
          leaseOwner: claim.owner,
          leaseExpiresAt: at(2_000),
        });
      }
    });

    it('takes sagas with no wakeAt first, then the earliest wakeAt, then the oldest', async () => {
      const { sagas } = context.storage;
      const a = sagaStart({ at: at(3) });
      const b = sagaStart({ at: at(1) });
      const c = sagaStart({ at: at(2) });
      for (const start of [a, b, c]) await sagas.start(start);
      const firstTwo = await sagas.claim('o', LEASE_MS, 2, at(10));
      expect(firstTwo.map((claim) => claim.record.id)).toEqual([b.id, c.id]);
      const [third] = await sagas.claim('o', LEASE_MS, 2, at(10));
      expect(third?.record.id).toBe(a.id);

      await sagas.record(a.id, 1, sagaWrite({ wakeAt: at(15) }));
      await sagas.record(b.id, 1, sagaWrite({ wakeAt: at(20) }));
      for (const id of [a.id, b.id, c.id]) expect(await sagas.release(id, 1)).toBe('recorded');
      const again = await sagas.claim('o', LEASE_MS, 3, at(30));
      expect(again.map((claim) => claim.record.id)).toEqual([c.id, a.id, b.id]);
    });

    it('a leased saga is not claimable until its lease expires, then with a higher token', async () => {
      const { sagas } = context.storage;
      const { record } = await sagas.start(sagaStart());
      expect((await sagas.claim('first', LEASE_MS, 10, at(0))).map((c) => c.fencingToken)).toEqual([1]);
      expect(await sagas.claim('second', LEASE_MS, 10, at(LEASE_MS - 1))).toEqual([]);
      const [taken] = await sagas.claim('second', LEASE_MS, 10, at(LEASE_MS));
      expect(taken?.fencingToken).toBe(2);
      expect(taken?.record).toMatchObject({ id: record.id, leaseOwner: 'second', fencingToken: 2 });
    });

    it('renew extends the lease of the current holder only', async () => {
      const { sagas } = context.storage;
      const { record } = await sagas.start(sagaStart());
      await sagas.claim('first', LEASE_MS, 1, at(0));
      expect(await sagas.renew(record.id, 1, LEASE_MS, at(900))).toBe('recorded');
      expect((await sagas.get(record.id))?.leaseExpiresAt).toEqual(at(1_900));
      expect(await sagas.claim('second', LEASE_MS, 1, at(1_500))).toEqual([]);
      expect(await sagas.claim('second', LEASE_MS, 1, at(1_900))).toHaveLength(1);
      expect(await sagas.renew(record.id, 1, LEASE_MS, at(1_950))).toBe('fenced');
    });

    it('a released saga is claimable at once; renew after release is refused', async () => {
      const { sagas } = context.storage;
      const { record } = await sagas.start(sagaStart());
      await sagas.claim('first', LEASE_MS, 1, at(0));
      expect(await sagas.release(record.id, 1)).toBe('recorded');
      expect(await sagas.renew(record.id, 1, LEASE_MS, at(1))).toBe('fenced');
      expect((await sagas.claim('second', LEASE_MS, 1, at(1)))[0]?.fencingToken).toBe(2);
    });

    it('claims nothing with a limit below 1', async () => {
      await context.storage.sagas.start(sagaStart());
      expect(await context.storage.sagas.claim('o', LEASE_MS, 0, at(0))).toEqual([]);
    });
  });
}

function describeFencing(context: Context): void {
  describe('fencing', () => {
    it("a replaced holder's record, renew and release are refused and write nothing", async () => {
      const { sagas } = context.storage;
      const { record } = await sagas.start(sagaStart());
      await sagas.claim('paused', LEASE_MS, 1, at(0));
      expect(await sagas.record(record.id, 1, sagaWrite())).toBe('recorded');
      await sagas.claim('successor', LEASE_MS, 1, at(LEASE_MS));
      const before = await stored(context.storage, record.id);

      const late = sagaWrite({ status: 'completed', at: at(5_000) }, { step: 'billing' });
      expect(await sagas.record(record.id, 1, late)).toBe('fenced');
      expect(await sagas.renew(record.id, 1, LEASE_MS, at(5_000))).toBe('fenced');
      expect(await sagas.release(record.id, 1)).toBe('fenced');
      expect(await stored(context.storage, record.id)).toEqual(before);

      expect(await sagas.record(record.id, 2, sagaWrite({ at: at(6_000) }, { step: 'contract' }))).toBe(
        'recorded',
      );
      const log = await sagas.transitions(record.id);
      expect(log.map((entry) => [entry.seq, entry.fencingToken])).toEqual([
        [1, 0],
        [2, 1],
        [3, 2],
      ]);
    });

    it('a write with a token no claim ever gave is refused', async () => {
      const { record } = await context.storage.sagas.start(sagaStart());
      await context.storage.sagas.claim('o', LEASE_MS, 1, at(0));
      expect(await context.storage.sagas.record(record.id, 7, sagaWrite())).toBe('fenced');
      expect(await context.storage.sagas.record(newMessageId(), 1, sagaWrite())).toBe('fenced');
      expect(await context.storage.sagas.transitions(record.id)).toHaveLength(1);
    });

    it("intervene takes the saga over: the holder is fenced, the operator's transition is logged", async () => {
      const { sagas } = context.storage;
      const { record } = await sagas.start(sagaStart());
      await sagas.claim('holder', LEASE_MS, 1, at(0));
      const detail = { actor: 'ops@example.com', reason: 'billing is down', action: 'pause' };
      const paused = await sagas.intervene(
        record.id,
        sagaWrite(
          { status: 'needs-attention', reason: 'paused by an operator' },
          { kind: 'operator', step: null, attempt: null, detail },
        ),
      );
      expect(paused).toMatchObject({
        status: 'needs-attention',
        reason: 'paused by an operator',
        fencingToken: 2,
        leaseOwner: null,
        leaseExpiresAt: null,
        transitions: 2,
      });
      expect(await sagas.record(record.id, 1, sagaWrite())).toBe('fenced');
      expect((await sagas.transitions(record.id)).at(-1)).toMatchObject({
        seq: 2,
        kind: 'operator',
        fencingToken: 2,
        detail,
      });
      expect(await sagas.claim('other', LEASE_MS, 1, at(LEASE_MS * 10))).toEqual([]);

      await sagas.intervene(
        record.id,
        sagaWrite({ status: 'running' }, { kind: 'operator', detail: { action: 'resume' } }),
      );
      expect((await sagas.claim('other', LEASE_MS, 1, at(0)))[0]?.fencingToken).toBe(4);
      expect(await sagas.intervene(newMessageId(), sagaWrite())).toBeUndefined();
    });

    it('intervene with the transitions it was decided on writes nothing once the saga moved on', async () => {
      const { sagas } = context.storage;
      const { record } = await sagas.start(sagaStart());
      const [claimed] = await sagas.claim('holder', LEASE_MS, 1, at(0));
      // The operator read the saga at 1 transition; the orchestrator completes it meanwhile.
      const completed = sagaWrite({ status: 'completed' }, { kind: 'saga-completed' });
      expect(await sagas.record(record.id, claimed!.fencingToken, completed)).toBe('recorded');
      const cancel = sagaWrite(
        { status: 'failed', reason: 'cancelled' },
        { kind: 'operator', detail: { action: 'cancel' } },
      );
      expect(await sagas.intervene(record.id, cancel, 1)).toBe('changed');
      expect(await sagas.get(record.id)).toMatchObject({ status: 'completed', transitions: 2 });
      expect(await sagas.transitions(record.id)).toHaveLength(2);
      // Decided on what is there now, it is recorded.
      expect(await sagas.intervene(record.id, cancel, 2)).toMatchObject({ status: 'failed', transitions: 3 });
      expect(await sagas.intervene(newMessageId(), cancel, 1)).toBeUndefined();
    });
  });
}

function describeRecord(context: Context): void {
  describe('record', () => {
    it('updates the row and appends gap-free seqs, also for concurrent writes under one token', async () => {
      const { sagas } = context.storage;
      const { record } = await sagas.start(sagaStart());
      await sagas.claim('o', LEASE_MS, 1, at(0));
      const last = sagaWrite(
        {
          status: 'compensating',
          snapshot: { undoing: ['profile'] },
          reason: 'billing refused',
          at: at(200),
        },
        { kind: 'step-failed', step: 'billing', attempt: 3, detail: { error: 'PaymentDeclined' } },
      );
      expect(await sagas.record(record.id, 1, sagaWrite())).toBe('recorded');
      expect(await sagas.record(record.id, 1, last)).toBe('recorded');
      expect(await sagas.get(record.id)).toMatchObject({
        status: 'compensating',
        snapshot: { undoing: ['profile'] },
        reason: 'billing refused',
        wakeAt: null,
        transitions: 3,
        updatedAt: at(200),
        createdAt: at(0),
        leaseOwner: 'o',
      });

      const parallel = await Promise.all(
        Array.from({ length: 8 }, (_, i) =>
          sagas.record(
            record.id,
            1,
            sagaWrite({ status: 'compensating' }, { kind: 'compensation-succeeded', step: `s${i}` }),
          ),
        ),
      );
      expect(parallel.every((outcome) => outcome === 'recorded')).toBe(true);
      const log = await sagas.transitions(record.id);
      expect(log.map((entry) => entry.seq)).toEqual(Array.from({ length: 11 }, (_, i) => i + 1));
      expect(log.slice(1).every((entry) => entry.fencingToken === 1)).toBe(true);
      expect(log[2]).toMatchObject({
        kind: 'step-failed',
        step: 'billing',
        attempt: 3,
        status: 'compensating',
        at: at(200),
      });
      expect((await sagas.get(record.id))?.transitions).toBe(11);
    });

    it.each(['completed', 'compensated', 'failed'] as const)(
      'a %s saga has no lease and is never claimed again',
      async (status) => {
        const { sagas } = context.storage;
        const { record } = await sagas.start(sagaStart());
        await sagas.claim('o', LEASE_MS, 1, at(0));
        expect(await sagas.record(record.id, 1, sagaWrite({ status }))).toBe('recorded');
        expect(await sagas.get(record.id)).toMatchObject({ status, leaseOwner: null, leaseExpiresAt: null });
        expect(await sagas.claim('o', LEASE_MS, 1, at(LEASE_MS * 100))).toEqual([]);
      },
    );

    it('a saga that needs attention is not claimed', async () => {
      const { sagas } = context.storage;
      const { record } = await sagas.start(sagaStart());
      await sagas.claim('o', LEASE_MS, 1, at(0));
      await sagas.record(
        record.id,
        1,
        sagaWrite({ status: 'needs-attention', reason: 'refund keeps failing' }),
      );
      await sagas.release(record.id, 1);
      expect(await sagas.claim('o', LEASE_MS, 1, at(LEASE_MS * 100))).toEqual([]);
    });

    it('a saga waking in the future is claimed only once its wakeAt has passed', async () => {
      const { sagas } = context.storage;
      const { record } = await sagas.start(sagaStart());
      await sagas.claim('o', LEASE_MS, 1, at(0));
      await sagas.record(record.id, 1, sagaWrite({ wakeAt: at(10_000) }, { kind: 'step-retry-scheduled' }));
      await sagas.release(record.id, 1);
      expect(await sagas.claim('o', LEASE_MS, 1, at(9_999))).toEqual([]);
      const [woken] = await sagas.claim('o', LEASE_MS, 1, at(10_000));
      expect(woken?.record).toMatchObject({ id: record.id, wakeAt: at(10_000), fencingToken: 2 });
    });
  });
}

/** Nested, unicode, large and small numbers: everything JSON can say. */
const JSON_VALUE = {
  text: 'ünïcödé ✓ 日本語 🎉 "quoted" \\ back\nslash\ttab',
  nested: { list: [1, 2.5, -3, null, true, false, '', [], {}], deep: { deeper: { deepest: ['x'] } } },
  large: 2 ** 53 - 1,
  huge: 1.7976931348623157e308,
  tiny: 5e-324,
  negative: -123456789.123,
};

function describeReads(context: Context): void {
  describe('reads', () => {
    it('input, snapshot and detail come back as they were written', async () => {
      const { sagas } = context.storage;
      const start = sagaStart({ input: JSON_VALUE, snapshot: [JSON_VALUE], idempotencyKey: 'json' });
      await sagas.start(start);
      await sagas.claim('o', LEASE_MS, 1, at(0));
      await sagas.record(start.id, 1, sagaWrite({ snapshot: { again: JSON_VALUE } }, { detail: JSON_VALUE }));
      const record = await sagas.get(start.id);
      expect(record?.input).toEqual(JSON_VALUE);
      expect(record?.snapshot).toEqual({ again: JSON_VALUE });
      expect((await sagas.transitions(start.id))[1]?.detail).toEqual(JSON_VALUE);
      expect((await sagas.start({ ...start, id: newMessageId() })).record.input).toEqual(JSON_VALUE);
      const numbers = record?.input as typeof JSON_VALUE;
      expect([typeof numbers.large, typeof numbers.huge, typeof numbers.tiny]).toEqual([
        'number',
        'number',
        'number',
      ]);
    });

    it('lists newest first, filtered by status, name and since, up to a limit; counts by status', async () => {
      const { sagas } = context.storage;
      const starts = [
        sagaStart({ name: 'unsubscribe', at: at(1) }),
        sagaStart({ name: 'refund', at: at(2) }),
        sagaStart({ name: 'unsubscribe', at: at(3) }),
        sagaStart({ name: 'unsubscribe', at: at(4) }),
      ];
      for (const start of starts) await sagas.start(start);
      const ids = (records: SagaRecord[]) => records.map((record) => record.id);
      const [s1, s2, s3, s4] = starts.map((start) => start.id);
      await sagas.claim('o', LEASE_MS, 1, at(10));
      await sagas.record(s1!, 1, sagaWrite({ status: 'completed' }));

      expect(ids(await sagas.list({}))).toEqual([s4, s3, s2, s1]);
      expect(ids(await sagas.list({ status: 'completed' }))).toEqual([s1]);
      expect(ids(await sagas.list({ name: 'unsubscribe' }))).toEqual([s4, s3, s1]);
      expect(ids(await sagas.list({ since: at(2) }))).toEqual([s4, s3, s2]);
      expect(ids(await sagas.list({ name: 'unsubscribe', status: 'running', limit: 1 }))).toEqual([s4]);
      expect(await sagas.list({ name: 'nothing' })).toEqual([]);

      const expected: Record<SagaStatus, number> = {
        running: 3,
        compensating: 0,
        'needs-attention': 0,
        completed: 1,
        compensated: 0,
        failed: 0,
      };
      expect(await sagas.countByStatus()).toEqual(expected);
    });

    it('an unknown saga has no record and no transitions', async () => {
      expect(await context.storage.sagas.get(newMessageId())).toBeUndefined();
      expect(await context.storage.sagas.get('not-a-saga-id')).toBeUndefined();
      expect(await context.storage.sagas.transitions(newMessageId())).toEqual([]);
    });
  });
}
