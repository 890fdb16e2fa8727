/**
 * Part of the `SagaStore` contract (see saga-store-contract.ts): `renewLeases`, the one statement
 * with which an orchestrator extends the leases of every saga it holds — each only while its
 * fencing token is current, answering exactly the sagas it did not extend.
 */
import { describe, expect, it } from 'vitest';
import { newMessageId } from '../core/ids.js';
import type { SagaStart, SagaStore, SagaWrite } from '../ports/saga-store.js';
import type { Storage } from '../ports/storage.js';

const T0 = Date.UTC(2031, 0, 1);
const at = (ms: number): Date => new Date(T0 + ms);
const LEASE_MS = 1_000;

async function startSaga(sagas: SagaStore, createdMs: number): Promise<string> {
  const start: SagaStart = {
    id: newMessageId(),
    name: 'unsubscribe',
    version: 1,
    input: {},
    snapshot: {},
    idempotencyKey: null,
    at: at(createdMs),
  };
  return (await sagas.start(start)).record.id;
}

const paused: SagaWrite = {
  status: 'needs-attention',
  snapshot: {},
  wakeAt: null,
  reason: 'paused by an operator',
  at: at(10),
  transition: { kind: 'operator', step: null, attempt: null, detail: { action: 'pause' } },
};

/** Registers the lease-renewal part of the saga store contract. */
export function describeSagaLeaseRenewal(context: { readonly storage: Storage }): void {
  describe('renewLeases', () => {
    it('extends every current lease in one call and answers exactly the fenced sagas, changing nothing of them', async () => {
      const { sagas } = context.storage;
      const [kept, alsoKept, released, takenOver] = [
        await startSaga(sagas, 1),
        await startSaga(sagas, 2),
        await startSaga(sagas, 3),
        await startSaga(sagas, 4),
      ];
      expect(await sagas.claim('first', LEASE_MS, 4, at(0))).toHaveLength(4);
      expect(await sagas.release(released, 1)).toBe('recorded');
      expect(await sagas.intervene(takenOver, paused)).toMatchObject({ fencingToken: 2 });
      const before = await Promise.all([released, takenOver].map((id) => sagas.get(id)));
      const unknown = newMessageId();

      const held = [kept, alsoKept, released, takenOver, unknown, 'not-a-saga-id'].map((id) => ({
        id,
        fencingToken: 1,
      }));
      const fenced = await sagas.renewLeases(held, LEASE_MS, at(900));
      expect(fenced.sort()).toEqual([released, takenOver, unknown, 'not-a-saga-id'].sort());

      for (const id of [kept, alsoKept])
        expect(await sagas.get(id)).toMatchObject({ leaseOwner: 'first', leaseExpiresAt: at(1_900) });
      expect(await Promise.all([released, takenOver].map((id) => sagas.get(id)))).toEqual(before);
      // The released saga is claimable at once; the renewed ones stay held past their first expiry.
      const claimed = await sagas.claim('second', LEASE_MS, 4, at(1_500));
      expect(claimed.map((claim) => claim.record.id)).toEqual([released]);
      expect(await sagas.claim('second', LEASE_MS, 4, at(1_900))).toHaveLength(2);
    });

    it("a replaced holder's renewal is refused; the new holder's extends its lease", async () => {
      const { sagas } = context.storage;
      const id = await startSaga(sagas, 0);
      await sagas.claim('paused', LEASE_MS, 1, at(0));
      await sagas.claim('successor', LEASE_MS, 1, at(LEASE_MS));
      expect(await sagas.renewLeases([{ id, fencingToken: 1 }], LEASE_MS, at(1_500))).toEqual([id]);
      expect(await sagas.get(id)).toMatchObject({ leaseOwner: 'successor', leaseExpiresAt: at(2_000) });
      expect(await sagas.renewLeases([{ id, fencingToken: 2 }], LEASE_MS, at(1_500))).toEqual([]);
      expect(await sagas.get(id)).toMatchObject({ leaseOwner: 'successor', leaseExpiresAt: at(2_500) });
    });

    it('renews nothing for an empty list', async () => {
      const { sagas } = context.storage;
      const id = await startSaga(sagas, 0);
      await sagas.claim('o', LEASE_MS, 1, at(0));
      expect(await sagas.renewLeases([], LEASE_MS, at(500))).toEqual([]);
      expect(await sagas.get(id)).toMatchObject({ leaseExpiresAt: at(LEASE_MS) });
    });
  });
}
