/**
 * Part of the `SagaStore` contract (see saga-store-contract.ts): one `record` of several
 * transitions (a step's result and the next step's start) is one durable write — all of them, each
 * its own log entry, or none — and `release` gives the lease up in that same write.
 */
import { describe, expect, it } from 'vitest';
import { newMessageId } from '../core/ids.js';
import type { SagaStart, SagaStore, SagaWrite } from '../ports/saga-store.js';
import type { Storage } from '../ports/storage.js';

const T0 = Date.UTC(2031, 0, 1);
const at = (ms: number): Date => new Date(T0 + ms);
const LEASE_MS = 1_000;

/** Starts a saga and claims it for `owner` at 0 (token 1). */
async function claimedSaga(sagas: SagaStore, owner = 'o'): Promise<string> {
  const start: SagaStart = {
    id: newMessageId(),
    name: 'unsubscribe',
    version: 1,
    input: {},
    snapshot: { step: 0 },
    idempotencyKey: null,
    at: at(0),
  };
  await sagas.start(start);
  const [claimed] = await sagas.claim(owner, LEASE_MS, 1, at(0));
  expect(claimed?.record.id).toBe(start.id);
  return start.id;
}

function write(
  kind: string,
  step: string,
  overrides: Partial<Omit<SagaWrite, 'transition'>> = {},
  detail: unknown = null,
): SagaWrite {
  return {
    status: 'running',
    snapshot: { after: `${kind} ${step}` },
    wakeAt: null,
    reason: null,
    at: at(100),
    ...overrides,
    transition: { kind, step, attempt: 1, detail },
  };
}

/** Registers the durable-write part of the saga store contract. */
export function describeSagaDurableWrites(context: { readonly storage: Storage }): void {
  describe('record of several transitions', () => {
    it('writes them all at once: the row takes the last one, each is its own log entry in order', async () => {
      const { sagas } = context.storage;
      const id = await claimedSaga(sagas);
      const succeeded = write('step-succeeded', 'profile', {}, { output: { ok: true } });
      const started = write('step-started', 'billing', { wakeAt: at(5_000) }, { deadline: 'soon' });
      expect(await sagas.record(id, 1, [succeeded, started])).toBe('recorded');
      const failed = write('step-failed', 'billing', { status: 'compensating', at: at(200) });
      const undo = write('compensation-started', 'profile', {
        status: 'compensating',
        reason: 'billing refused',
        at: at(201),
      });
      expect(await sagas.record(id, 1, [failed, undo])).toBe('recorded');

      expect(await sagas.get(id)).toMatchObject({
        status: 'compensating',
        snapshot: { after: 'compensation-started profile' },
        wakeAt: null,
        reason: 'billing refused',
        transitions: 5,
        updatedAt: at(201),
        leaseOwner: 'o',
        leaseExpiresAt: at(LEASE_MS),
      });
      const log = await sagas.transitions(id);
      expect(
        log.map(({ seq, kind, step, status, detail, fencingToken, at: time }) => ({
          seq,
          kind,
          step,
          status,
          detail,
          fencingToken,
          at: time,
        })),
      ).toEqual([
        { seq: 1, kind: 'started', step: null, status: 'running', detail: null, fencingToken: 0, at: at(0) },
        {
          seq: 2,
          kind: 'step-succeeded',
          step: 'profile',
          status: 'running',
          detail: { output: { ok: true } },
          fencingToken: 1,
          at: at(100),
        },
        {
          seq: 3,
          kind: 'step-started',
          step: 'billing',
          status: 'running',
          detail: { deadline: 'soon' },
          fencingToken: 1,
          at: at(100),
        },
        {
          seq: 4,
          kind: 'step-failed',
          step: 'billing',
          status: 'compensating',
          detail: null,
          fencingToken: 1,
          at: at(200),
        },
        {
          seq: 5,
          kind: 'compensation-started',
          step: 'profile',
          status: 'compensating',
          detail: null,
          fencingToken: 1,
          at: at(201),
        },
      ]);
    });

    it('a replaced holder writes none of them, and keeps no say over the lease', async () => {
      const { sagas } = context.storage;
      const id = await claimedSaga(sagas, 'paused');
      await sagas.claim('successor', LEASE_MS, 1, at(LEASE_MS));
      const before = { record: await sagas.get(id), log: await sagas.transitions(id) };
      const late = [write('step-succeeded', 'profile'), write('step-started', 'billing')] as const;
      expect(await sagas.record(id, 1, late, { release: true })).toBe('fenced');
      expect({ record: await sagas.get(id), log: await sagas.transitions(id) }).toEqual(before);
    });

    it('release gives the lease up in the same write: claimable at once when runnable, not when it needs attention', async () => {
      const { sagas } = context.storage;
      const waiting = await claimedSaga(sagas);
      const backoff = write('step-failed', 'profile', { wakeAt: at(50) });
      expect(await sagas.record(waiting, 1, backoff, { release: true })).toBe('recorded');
      expect(await sagas.get(waiting)).toMatchObject({
        leaseOwner: null,
        leaseExpiresAt: null,
        transitions: 2,
      });
      expect(await sagas.claim('other', LEASE_MS, 1, at(49))).toEqual([]);
      expect((await sagas.claim('other', LEASE_MS, 1, at(50)))[0]).toMatchObject({
        fencingToken: 2,
        record: { id: waiting, leaseOwner: 'other' },
      });

      const stuck = await claimedSaga(sagas);
      const attention = write('compensation-failed', 'profile', {
        status: 'needs-attention',
        reason: 'refund keeps failing',
      });
      expect(await sagas.record(stuck, 1, [attention], { release: true })).toBe('recorded');
      expect(await sagas.get(stuck)).toMatchObject({ status: 'needs-attention', leaseOwner: null });
      const later = await sagas.claim('other', LEASE_MS, 10, at(LEASE_MS * 100));
      expect(later.map((claim) => claim.record.id)).toEqual([waiting]);

      // Without `release`, a write that is not final keeps the lease.
      const held = await claimedSaga(sagas);
      expect(await sagas.record(held, 1, write('step-succeeded', 'profile'))).toBe('recorded');
      expect(await sagas.get(held)).toMatchObject({ leaseOwner: 'o', leaseExpiresAt: at(LEASE_MS) });
    });
  });
}
