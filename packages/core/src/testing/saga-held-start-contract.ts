/**
 * Part of the `SagaStore` contract (see saga-store-contract.ts): a start that holds its saga
 * (`SagaStart.lease`) — the orchestrator that starts a saga claims it in the same write, with the
 * token a first claim gives, so nobody else can claim it before the lease expires; an idempotent
 * repeat takes no lease.
 */
import { describe, expect, it } from 'vitest';
import { newMessageId } from '../core/ids.js';
import type { SagaStart, SagaWrite } from '../ports/saga-store.js';
import type { Storage } from '../ports/storage.js';

const T0 = Date.UTC(2031, 0, 1);
const at = (ms: number): Date => new Date(T0 + ms);
const LEASE_MS = 1_000;

const heldStart = (overrides: Partial<SagaStart> = {}): SagaStart => ({
  id: newMessageId(),
  name: 'unsubscribe',
  version: 1,
  input: { customerId: 'c-1' },
  snapshot: { next: 'profile' },
  idempotencyKey: null,
  at: at(0),
  lease: { owner: 'starter', expiresAt: at(LEASE_MS) },
  ...overrides,
});

const stepWrite = (kind: string, step: string, snapshot: unknown, ms: number): SagaWrite => ({
  status: 'running',
  snapshot,
  wakeAt: null,
  reason: null,
  at: at(ms),
  transition: { kind, step, attempt: 1, detail: { fencingToken: 1 } },
});

const stepDone: SagaWrite = {
  status: 'running',
  snapshot: { next: 'billing' },
  wakeAt: null,
  reason: null,
  at: at(10),
  transition: { kind: 'step-succeeded', step: 'profile', attempt: 1, detail: null },
};

/** Registers the held-start part of the saga store contract. */
export function describeSagaHeldStart(context: { readonly storage: Storage }): void {
  describe('start holding the saga (lease)', () => {
    it('records the saga claimed by its starter with token 1: unclaimable until the lease expires, writable with that token', async () => {
      const { sagas } = context.storage;
      const start = heldStart();
      const { record, created } = await sagas.start(start);
      expect(created).toBe(true);
      const held = { fencingToken: 1, leaseOwner: 'starter', leaseExpiresAt: at(LEASE_MS) };
      expect(record).toMatchObject({ id: start.id, status: 'running', transitions: 1, ...held });
      expect(await sagas.get(start.id)).toEqual(record);
      expect((await sagas.transitions(start.id)).map((t) => [t.seq, t.kind])).toEqual([[1, 'started']]);

      expect(await sagas.claim('other', LEASE_MS, 10, at(LEASE_MS - 1))).toEqual([]);
      expect(await sagas.record(start.id, 1, stepDone)).toBe('recorded');
      const [taken] = await sagas.claim('other', LEASE_MS, 10, at(LEASE_MS));
      expect(taken).toMatchObject({ fencingToken: 2, record: { id: start.id, leaseOwner: 'other' } });
      expect(await sagas.record(start.id, 1, stepDone)).toBe('fenced');
    });

    it("records the lease's writes after started, each its own entry with token 1; the row takes the last one", async () => {
      const { sagas } = context.storage;
      const first = stepWrite('step-started', 'profile', { next: 'profile', inFlight: 'profile' }, 1);
      const second = stepWrite('step-started', 'contract', { next: 'both', inFlight: 'both' }, 2);
      const start = heldStart({
        lease: { owner: 'starter', expiresAt: at(LEASE_MS), writes: [first, second] },
      });
      const { record } = await sagas.start(start);
      expect(record).toMatchObject({
        snapshot: second.snapshot,
        transitions: 3,
        fencingToken: 1,
        updatedAt: at(2),
      });
      expect(await sagas.get(start.id)).toEqual(record);
      const entry = {
        sagaId: start.id,
        status: 'running',
        attempt: 1,
        fencingToken: 1,
        detail: { fencingToken: 1 },
      };
      expect(await sagas.transitions(start.id)).toEqual([
        {
          ...entry,
          seq: 1,
          kind: 'started',
          step: null,
          attempt: null,
          fencingToken: 0,
          detail: null,
          at: at(0),
        },
        { ...entry, seq: 2, kind: 'step-started', step: 'profile', at: at(1) },
        { ...entry, seq: 3, kind: 'step-started', step: 'contract', at: at(2) },
      ]);
      expect(await sagas.record(start.id, 1, stepDone)).toBe('recorded');
      expect((await sagas.transitions(start.id)).map((t) => t.seq)).toEqual([1, 2, 3, 4]);
    });

    it('a repeated idempotency key returns the existing saga as it is, taking no lease', async () => {
      const { sagas } = context.storage;
      const { lease: _none, ...unheld } = heldStart({ idempotencyKey: 'req-1' });
      const first = await sagas.start(unheld);
      const again = await sagas.start(heldStart({ idempotencyKey: 'req-1' }));
      expect(again).toEqual({ record: first.record, created: false });
      expect((await sagas.claim('other', LEASE_MS, 10, at(0))).map((c) => c.record.id)).toEqual([
        first.record.id,
      ]);
    });
  });
}
