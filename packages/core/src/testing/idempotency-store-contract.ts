/**
 * The contract of `Storage.idempotency` (participant idempotency keys), as a Vitest suite run
 * against every adapter: a key and its response commit with the effect's transaction or not at
 * all, a repeat replays the stored response, another request under the same key is a mismatch,
 * and a concurrent duplicate waits for the first to finish.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { StoredResponse } from '../ports/idempotency-store.js';
import type { Storage } from '../ports/storage.js';
import type { StorageFactory } from './storage-contract.js';

const RESPONSE: StoredResponse = Object.freeze({
  status: 201,
  headers: Object.freeze({ 'content-type': 'application/json', location: '/payments/7' }),
  body: '{"id":7,"note":"ü \\u0000 \\"quoted\\""}',
});

class Rollback extends Error {}

/** A promise and the function that resolves it. */
function gate(): [Promise<void>, () => void] {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => {
    open = resolve;
  });
  return [opened, open];
}

/** Registers the idempotency store contract suite. */
export function describeIdempotencyStoreContract(name: string, factory: StorageFactory): void {
  describe(`IdempotencyStore contract: ${name}`, () => {
    let storage: Storage;
    let cleanup: () => Promise<void>;

    beforeEach(async () => {
      ({ storage, cleanup } = await factory());
      await storage.migrate();
    });
    afterEach(async () => {
      await storage.close();
      await cleanup();
    });

    const record = (key: string, hash: string, scope = 'POST /payments') =>
      storage.transaction(async (tx) => {
        const begun = await storage.idempotency.begin(tx, scope, key, hash, new Date());
        if (begun.kind === 'new') await storage.idempotency.complete(tx, scope, key, RESPONSE);
        return begun;
      });

    it('a repeated key with the same request replays the stored response exactly', async () => {
      expect(await record('k1', 'hash-a')).toEqual({ kind: 'new' });
      expect(await record('k1', 'hash-a')).toEqual({ kind: 'replay', response: RESPONSE });
    });

    it('the same key with another request is a mismatch naming the first hash', async () => {
      await record('k1', 'hash-a');
      expect(await record('k1', 'hash-b')).toEqual({ kind: 'mismatch', storedRequestHash: 'hash-a' });
    });

    it('keys are separate per scope', async () => {
      await record('k1', 'hash-a', 'POST /payments');
      expect(await record('k1', 'hash-b', 'POST /refunds')).toEqual({ kind: 'new' });
    });

    it('a rolled-back transaction leaves no key behind, so the retry runs as new', async () => {
      await expect(
        storage.transaction(async (tx) => {
          await storage.idempotency.begin(tx, 's', 'k1', 'hash-a', new Date());
          throw new Rollback('the effect failed');
        }),
      ).rejects.toThrow(Rollback);
      expect(await record('k1', 'hash-a', 's')).toEqual({ kind: 'new' });
    });

    it('a concurrent duplicate waits for the first transaction and then replays its response', async () => {
      const [firstMayCommit, releaseFirst] = gate();
      const [firstHasBegun, firstBegun] = gate();
      const first = storage.transaction(async (tx) => {
        const begun = await storage.idempotency.begin(tx, 's', 'k1', 'hash-a', new Date());
        firstBegun();
        await firstMayCommit;
        await storage.idempotency.complete(tx, 's', 'k1', RESPONSE);
        return begun;
      });
      await firstHasBegun;
      const second = record('k1', 'hash-a', 's');
      releaseFirst();
      expect(await first).toEqual({ kind: 'new' });
      expect(await second).toEqual({ kind: 'replay', response: RESPONSE });
    });

    it('a concurrent duplicate whose first transaction rolls back runs as new', async () => {
      const [firstMayEnd, releaseFirst] = gate();
      const [firstHasBegun, firstBegun] = gate();
      const first = storage.transaction(async (tx) => {
        await storage.idempotency.begin(tx, 's', 'k1', 'hash-a', new Date());
        firstBegun();
        await firstMayEnd;
        throw new Rollback('the effect failed');
      });
      await firstHasBegun;
      const second = record('k1', 'hash-a', 's');
      releaseFirst();
      await expect(first).rejects.toThrow(Rollback);
      expect(await second).toEqual({ kind: 'new' });
    });

    it('prune deletes keys recorded before the cut-off, at most `limit` per call', async () => {
      const old = new Date(Date.now() - 10 * 86_400_000);
      for (const key of ['a', 'b', 'c']) {
        await storage.transaction(async (tx) => {
          await storage.idempotency.begin(tx, 's', key, 'h', old);
          await storage.idempotency.complete(tx, 's', key, RESPONSE);
        });
      }
      await record('fresh', 'h', 's');
      const cutOff = new Date(Date.now() - 86_400_000);
      expect(await storage.idempotency.prune(cutOff, 2)).toBe(2);
      expect(await storage.idempotency.prune(cutOff, 2)).toBe(1);
      expect(await storage.idempotency.prune(cutOff, 2)).toBe(0);
      expect(await record('fresh', 'h', 's')).toEqual({ kind: 'replay', response: RESPONSE });
      expect(await record('a', 'h', 's')).toEqual({ kind: 'new' });
    });
  });
}
