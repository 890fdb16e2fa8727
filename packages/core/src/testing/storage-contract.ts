/**
 * The contract every `Storage` adapter must keep, as a Vitest suite. Adapter authors call
 * `describeStorageContract('my adapter', factory)` from a test file; the suite skips what the
 * adapter's capability flags say it cannot do.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Envelope } from '../core/envelope.js';
import { newMessageId } from '../core/ids.js';
import type { Storage, Transaction } from '../ports/storage.js';
import { RelayState, relayState } from '../relay/relay-state.js';
import { relayHeartbeat } from './relay-heartbeat-fixture.js';

/** Creates a fresh, empty database for one test and removes it afterwards. */
export type StorageFactory = () => Promise<{ storage: Storage; cleanup: () => Promise<void> }>;

function envelope(key: string, sequence: number, source = 'orders'): Envelope {
  return {
    specversion: '1.0',
    id: newMessageId(),
    source,
    type: 'order.placed',
    time: new Date().toISOString(),
    datacontenttype: 'application/json',
    subject: key,
    sequence,
    data: { key, sequence },
  };
}

async function appendOne(storage: Storage, tx: Transaction, key: string): Promise<Envelope> {
  const sequence = await storage.outbox.reserveSequence(tx, 'orders', key, 1);
  const message = envelope(key, sequence);
  await storage.outbox.insert(tx, [{ envelope: message, body: JSON.stringify(message) }]);
  return message;
}

/** Registers the storage contract suite. */
export function describeStorageContract(name: string, factory: StorageFactory): void {
  describe(`Storage contract: ${name}`, () => {
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

    describe('migrations', () => {
      it('a second migrate finds nothing to do, and the schema is current', async () => {
        const again = await storage.migrate();
        expect(again.steps).toEqual([]);
        expect(again.fromVersion).toBe(again.latestVersion);
        await expect(storage.assertSchemaCurrent()).resolves.toBeUndefined();
      });
    });

    describe('outbox', () => {
      it('reserves gap-free sequences per (source, key), counting several at once', async () => {
        const firsts = await storage.transaction(async (tx) => [
          await storage.outbox.reserveSequence(tx, 'orders', 'a', 1),
          await storage.outbox.reserveSequence(tx, 'orders', 'a', 3),
          await storage.outbox.reserveSequence(tx, 'orders', 'b', 1),
          await storage.outbox.reserveSequence(tx, 'invoices', 'a', 1),
          await storage.outbox.reserveSequence(tx, 'orders', 'a', 1),
        ]);
        expect(firsts).toEqual([1, 2, 1, 1, 5]);
      });

      it('a rolled-back transaction leaves neither rows nor consumed sequences', async () => {
        await expect(
          storage.transaction(async (tx) => {
            await appendOne(storage, tx, 'a');
            throw new Error('business rule failed');
          }),
        ).rejects.toThrow('business rule failed');
        expect((await storage.outbox.status()).backlog).toBe(0);
        const next = await storage.transaction((tx) => storage.outbox.reserveSequence(tx, 'orders', 'a', 1));
        expect(next).toBe(1);
      });

      it('claims committed rows in order with their exact body, and marking publishes them', async () => {
        const appended = await storage.transaction(async (tx) => [
          await appendOne(storage, tx, 'a'),
          await appendOne(storage, tx, 'b'),
          await appendOne(storage, tx, 'a'),
        ]);
        const claim = await storage.outbox.claim({ relayId: 'r1', limit: 10, leaseMs: 10_000 });
        expect(claim?.rows.map((row) => row.envelope.id)).toEqual(appended.map((m) => m.id));
        expect(claim?.rows.map((row) => row.body)).toEqual(appended.map((m) => JSON.stringify(m)));
        await claim?.markPublished();
        expect(await storage.outbox.claim({ relayId: 'r1', limit: 10, leaseMs: 10_000 })).toBeNull();
        expect(await storage.outbox.status()).toMatchObject({
          backlog: 0,
          publishedRetained: 3,
          oldestUnpublishedAt: null,
        });
      });

      it('a released claim leaves its rows for the next claim', async () => {
        await storage.transaction((tx) => appendOne(storage, tx, 'a'));
        const first = await storage.outbox.claim({ relayId: 'r1', limit: 10, leaseMs: 10_000 });
        await first?.release();
        const second = await storage.outbox.claim({ relayId: 'r1', limit: 10, leaseMs: 10_000 });
        expect(second?.rows).toHaveLength(1);
        await second?.release();
      });

      it('a relay that gives up (released claim or stopped relay) lets another relay claim at once', async () => {
        await storage.transaction((tx) => appendOne(storage, tx, 'a'));
        const first = await storage.outbox.claim({ relayId: 'r1', limit: 10, leaseMs: 60_000 });
        expect(first?.rows).toHaveLength(1);
        await first?.release();
        const second = await storage.outbox.claim({ relayId: 'r2', limit: 10, leaseMs: 60_000 });
        expect(second?.rows).toHaveLength(1);
        await second?.markPublished();
        await storage.outbox.releaseRelay('r2');
        await storage.transaction((tx) => appendOne(storage, tx, 'b'));
        const third = await storage.outbox.claim({ relayId: 'r3', limit: 10, leaseMs: 60_000 });
        expect(third?.rows.map((row) => row.envelope.subject)).toEqual(['b']);
        await third?.release();
      });

      it('two relays never hold the same row at once', async () => {
        await storage.transaction(async (tx) => {
          for (let i = 0; i < 6; i += 1) await appendOne(storage, tx, `k${i}`);
        });
        const first = await storage.outbox.claim({ relayId: 'r1', limit: 3, leaseMs: 10_000 });
        const second = await storage.outbox.claim({ relayId: 'r2', limit: 10, leaseMs: 10_000 });
        const firstIds = new Set(first?.rows.map((row) => row.envelope.id));
        for (const row of second?.rows ?? []) expect(firstIds.has(row.envelope.id)).toBe(false);
        await first?.release();
        await second?.release();
      });

      it('reports the backlog and prunes only published rows older than the cut-off', async () => {
        await storage.transaction(async (tx) => {
          await appendOne(storage, tx, 'a');
          await appendOne(storage, tx, 'b');
        });
        const claim = await storage.outbox.claim({ relayId: 'r1', limit: 1, leaseMs: 10_000 });
        await claim?.markPublished();
        const status = await storage.outbox.status();
        expect(status.backlog).toBe(1);
        expect(status.oldestUnpublishedAt).toBeInstanceOf(Date);
        expect(await storage.outbox.prunePublished(new Date(Date.now() - 60_000), 100)).toBe(0);
        expect(await storage.outbox.prunePublished(new Date(Date.now() + 60_000), 100)).toBe(1);
        expect(await storage.outbox.status()).toMatchObject({ backlog: 1, publishedRetained: 0 });
      });
    });

    describe('relay heartbeats', () => {
      const beat = relayHeartbeat;
      const relay = async (relayId: string) =>
        (await storage.outbox.listRelays()).relays.find((r) => r.relayId === relayId);

      it('records a heartbeat and reads it back, stamped by the store: a running relay', async () => {
        expect((await storage.outbox.listRelays()).relays).toEqual([]);
        const sent = beat('r1', { published: 12, lastPublishedAt: new Date(Date.now() - 1_000) });
        await storage.outbox.recordHeartbeat(sent);
        const list = await storage.outbox.listRelays();
        const { stopped: _, ...expected } = sent;
        expect(list.relays).toEqual([{ ...expected, heartbeatAt: expect.any(Date), stoppedAt: null }]);
        expect(relayState(list.relays[0]!, list.observedAt)).toBe(RelayState.running);
      });

      it('a later heartbeat replaces the row, keeping the last publish and error it does not repeat', async () => {
        const publishedAt = new Date(Date.now() - 5_000);
        const failedAt = new Date(Date.now() - 4_000);
        await storage.outbox.recordHeartbeat(
          beat('r1', {
            published: 5,
            lastPublishedAt: publishedAt,
            consecutiveFailures: 2,
            lastError: 'Error: down',
            lastErrorAt: failedAt,
          }),
        );
        const restartedAt = new Date();
        await storage.outbox.recordHeartbeat(beat('r1', { startedAt: restartedAt, pid: 4343 }));
        const list = await storage.outbox.listRelays();
        expect(list.relays).toHaveLength(1);
        expect(list.relays[0]).toMatchObject({
          pid: 4343,
          startedAt: restartedAt,
          published: 0,
          lastPublishedAt: publishedAt,
          consecutiveFailures: 0,
          lastError: 'Error: down',
          lastErrorAt: failedAt,
        });
      });

      it('a stopping heartbeat marks the relay stopped; a later one (a restart) clears it', async () => {
        await storage.outbox.recordHeartbeat(beat('r1'));
        await storage.outbox.recordHeartbeat(beat('r2'));
        await storage.outbox.recordHeartbeat(beat('r1', { stopped: true }));
        const list = await storage.outbox.listRelays();
        const stopped = list.relays.find((r) => r.relayId === 'r1')!;
        expect(stopped.stoppedAt).toBeInstanceOf(Date);
        expect(relayState(stopped, list.observedAt)).toBe(RelayState.stopped);
        expect((await relay('r2'))?.stoppedAt).toBeNull();
        await storage.outbox.recordHeartbeat(beat('r1'));
        expect((await relay('r1'))?.stoppedAt).toBeNull();
      });

      it('prunes only the relays whose last heartbeat is older than the cut-off', async () => {
        await storage.outbox.recordHeartbeat(beat('old', { stopped: true }));
        const old = (await relay('old'))!;
        // Beat until the store's clock has moved past the first heartbeat (its clock, not ours).
        let recent = old;
        while (recent.heartbeatAt.getTime() <= old.heartbeatAt.getTime()) {
          await storage.outbox.recordHeartbeat(beat('recent'));
          recent = (await relay('recent'))!;
        }
        expect(await storage.outbox.pruneRelays(old.heartbeatAt)).toBe(0);
        expect(await storage.outbox.pruneRelays(recent.heartbeatAt)).toBe(1);
        expect((await storage.outbox.listRelays()).relays.map((r) => r.relayId)).toEqual(['recent']);
      });

      it('names the relay holding the outbox lease where one relay at a time publishes', async () => {
        await storage.transaction((tx) => appendOne(storage, tx, 'a'));
        const claim = await storage.outbox.claim({ relayId: 'r1', limit: 10, leaseMs: 60_000 });
        expect(claim?.rows).toHaveLength(1);
        const expected = storage.capabilities.skipLocked ? null : 'r1';
        expect((await storage.outbox.listRelays()).leaseHolder).toBe(expected);
        await claim?.release();
        expect((await storage.outbox.listRelays()).leaseHolder).toBeNull();
      });
    });

    describe('inbox', () => {
      const receipt = (messageId: string) => ({
        messageId,
        source: 'orders',
        key: 'a',
        sequence: 1,
        outcome: 'applied' as const,
        payloadHash: 'c3ab8ff13720e8ad9047dd39466b3c89',
      });

      it('a new key starts at 0; its state survives the transaction', async () => {
        await storage.transaction(async (tx) => {
          expect(await storage.inbox.lockKey(tx, 'billing', 'orders', 'a')).toEqual({
            lastSequence: 0,
            blockedBy: null,
          });
          await storage.inbox.setKey(tx, 'billing', 'orders', 'a', { lastSequence: 4, blockedBy: 'm-9' });
        });
        const state = await storage.transaction((tx) => storage.inbox.lockKey(tx, 'billing', 'orders', 'a'));
        expect(state).toEqual({ lastSequence: 4, blockedBy: 'm-9' });
        const other = await storage.transaction((tx) => storage.inbox.lockKey(tx, 'shipping', 'orders', 'a'));
        expect(other.lastSequence).toBe(0);
      });

      it('a receipt is recorded once per consumer; a second is a duplicate', async () => {
        const id = newMessageId();
        await storage.transaction(async (tx) => {
          expect(await storage.inbox.recordReceipt(tx, 'billing', receipt(id))).toBe('recorded');
          expect(await storage.inbox.recordReceipt(tx, 'billing', receipt(id))).toBe('duplicate');
          expect(await storage.inbox.recordReceipt(tx, 'shipping', receipt(id))).toBe('recorded');
          expect(await storage.inbox.hasReceipt(tx, 'billing', id)).toBe(true);
        });
        expect((await storage.inbox.counts('billing')).receipts).toBe(1);
      });

      it('finds a receipt with its position and payload hash; the first one written stays', async () => {
        const id = newMessageId();
        const unknown = newMessageId();
        await storage.transaction(async (tx) => {
          await storage.inbox.recordReceipt(tx, 'billing', receipt(id));
          const other = { ...receipt(id), key: 'b', sequence: 7, payloadHash: 'other' };
          expect(await storage.inbox.recordReceipt(tx, 'billing', other)).toBe('duplicate');
          await storage.inbox.recordReceipt(tx, 'billing', { ...receipt(unknown), payloadHash: null });
        });
        const [found, withoutHash, missing] = await storage.transaction(async (tx) => [
          await storage.inbox.findReceipt(tx, 'billing', id),
          await storage.inbox.findReceipt(tx, 'billing', unknown),
          await storage.inbox.findReceipt(tx, 'shipping', id),
        ]);
        expect(found).toEqual(receipt(id));
        expect(withoutHash).toMatchObject({ messageId: unknown, payloadHash: null });
        expect(missing).toBeNull();
      });

      it('a receipt written in a rolled-back transaction is gone', async () => {
        const id = newMessageId();
        await expect(
          storage.transaction(async (tx) => {
            await storage.inbox.recordReceipt(tx, 'billing', receipt(id));
            throw new Error('handler failed');
          }),
        ).rejects.toThrow();
        expect(await storage.transaction((tx) => storage.inbox.hasReceipt(tx, 'billing', id))).toBe(false);
      });

      it('parks, finds, updates and deletes messages; only next-in-line due ones are reported due', async () => {
        const parked = (sequence: number, nextAttemptAt: Date | null) => ({
          messageId: newMessageId(),
          source: 'orders',
          key: 'a',
          sequence,
          type: 'order.placed',
          body: `{"n":${sequence}}`,
          attempts: 0,
          nextAttemptAt,
          lastError: null,
          firstFailedAt: null,
        });
        const second = parked(2, null);
        const third = parked(3, null);
        await storage.transaction(async (tx) => {
          expect(await storage.inbox.park(tx, 'billing', second)).toBe('parked');
          expect(await storage.inbox.park(tx, 'billing', second)).toBe('duplicate');
          await storage.inbox.park(tx, 'billing', third);
        });
        expect(await storage.inbox.dueParked('billing', new Date(), 10)).toEqual([]);
        await storage.transaction((tx) =>
          storage.inbox.setKey(tx, 'billing', 'orders', 'a', { lastSequence: 1, blockedBy: null }),
        );
        expect((await storage.inbox.dueParked('billing', new Date(), 10)).map((m) => m.messageId)).toEqual([
          second.messageId,
        ]);

        const later = new Date(Date.now() + 60_000);
        await storage.transaction((tx) =>
          storage.inbox.updateParked(tx, 'billing', second.messageId, {
            attempts: 2,
            nextAttemptAt: later,
            lastError: 'Error: down',
            firstFailedAt: new Date(),
          }),
        );
        expect(await storage.inbox.dueParked('billing', new Date(), 10)).toEqual([]);
        const found = await storage.transaction((tx) =>
          storage.inbox.findParked(tx, 'billing', 'orders', 'a', 2),
        );
        expect(found).toMatchObject({
          messageId: second.messageId,
          attempts: 2,
          lastError: 'Error: down',
          body: '{"n":2}',
        });
        expect(found?.nextAttemptAt?.getTime()).toBe(later.getTime());

        await storage.transaction((tx) =>
          storage.inbox.setKey(tx, 'billing', 'orders', 'a', { lastSequence: 1, blockedBy: 'x' }),
        );
        expect(await storage.inbox.dueParked('billing', new Date(Date.now() + 120_000), 10)).toEqual([]);
        await storage.transaction((tx) => storage.inbox.deleteParked(tx, 'billing', second.messageId));
        expect((await storage.inbox.counts('billing')).parked).toBe(1);
      });

      it('stores dead letters with everything needed to replay them, even without an id', async () => {
        const now = new Date();
        await storage.transaction(async (tx) => {
          await storage.inbox.addDeadLetter(tx, {
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
            body: 'not json',
            fingerprint: 'f1',
            destination: 'billing',
            headers: {},
            bodySha256: 'sha-1',
            bodyBytes: 8,
            bodyTruncated: false,
            firstFailedAt: now,
            lastFailedAt: now,
          });
          await storage.inbox.addDeadLetter(tx, {
            consumer: 'billing',
            messageId: 'not-a-uuid',
            source: 'orders',
            type: 'order.placed',
            key: 'a',
            sequence: 3,
            reason: 'HANDLER_RETRIES_EXHAUSTED',
            errorClass: 'Error',
            errorMessage: 'billing provider down',
            attempts: 8,
            policy: 'block-key',
            body: '{"id":"not-a-uuid"',
            fingerprint: 'f2',
            destination: 'billing',
            headers: { id: 'not-a-uuid', traceparent: '00-x' },
            bodySha256: 'sha-2',
            bodyBytes: 900_000,
            bodyTruncated: true,
            firstFailedAt: now,
            lastFailedAt: now,
          });
        });
        const letters = await storage.inbox.listDeadLetters('billing');
        expect(letters.map((d) => [d.reason, d.messageId, d.attempts, d.body, d.status])).toEqual([
          ['MALFORMED', null, 0, 'not json', 'open'],
          ['HANDLER_RETRIES_EXHAUSTED', 'not-a-uuid', 8, '{"id":"not-a-uuid"', 'open'],
        ]);
        expect(letters[1]).toMatchObject({
          fingerprint: 'f2',
          destination: 'billing',
          headers: { id: 'not-a-uuid', traceparent: '00-x' },
          bodySha256: 'sha-2',
          bodyBytes: 900_000,
          bodyTruncated: true,
        });
        expect(letters[1]?.firstFailedAt.getTime()).toBe(now.getTime());
        const audit = await storage.inbox.deadLetterAudit(letters[1]!.id);
        expect(audit).toEqual([
          {
            at: expect.any(Date),
            actor: 'converge:billing',
            action: 'created',
            detail: 'HANDLER_RETRIES_EXHAUSTED after 8 attempt(s): Error: billing provider down',
          },
        ]);
        expect(await storage.inbox.listDeadLetters('shipping')).toEqual([]);
      });
    });

    describe('SQL log', () => {
      const entry = (n: number) => ({
        messageId: `m${n}`,
        source: 'orders',
        type: 'order.placed',
        key: 'a',
        body: `{"n":${n}}`,
      });

      it('reads appended records in order after a position', async () => {
        await storage.log.append([entry(1), entry(2)]);
        await storage.log.append([entry(3)]);
        const all = await storage.log.read(0, 10);
        expect(all.map((r) => r.body)).toEqual(['{"n":1}', '{"n":2}', '{"n":3}']);
        const positions = all.map((r) => r.position);
        expect([...positions].sort((a, b) => a - b)).toEqual(positions);
        expect((await storage.log.read(positions[0]!, 1)).map((r) => r.messageId)).toEqual(['m2']);
        expect(await storage.log.headPosition()).toBe(positions[2]);
      });

      it('keeps one lease holder per group and refuses commits from a fenced-out holder', async () => {
        await storage.log.append([entry(1)]);
        const lease = await storage.log.acquireGroup('billing', 'h1', 60_000);
        expect(lease).not.toBeNull();
        expect(await storage.log.acquireGroup('billing', 'h2', 60_000)).toBeNull();
        expect(await storage.log.acquireGroup('shipping', 'h2', 60_000)).not.toBeNull();
        const renewed = await storage.log.acquireGroup('billing', 'h1', 60_000);
        expect(renewed?.token).toBe(lease?.token);
        const [record] = await storage.log.read(0, 1);
        await storage.log.commit(lease!, record!.position);
        expect(await storage.log.committedPosition('billing')).toBe(record!.position);
        await storage.log.releaseGroup(lease!);
        const taken = await storage.log.acquireGroup('billing', 'h2', 60_000);
        expect(taken?.token).toBeGreaterThan(lease!.token);
        await expect(storage.log.commit(lease!, record!.position + 1)).rejects.toMatchObject({
          code: 'LOG_LEASE_LOST',
        });
        expect(await storage.log.committedPosition('billing')).toBe(record!.position);
      });

      it('an expired lease can be taken over', async () => {
        const lease = await storage.log.acquireGroup('billing', 'h1', 1);
        await new Promise((resolve) => setTimeout(resolve, 20));
        const taken = await storage.log.acquireGroup('billing', 'h2', 60_000);
        expect(taken?.holderId).toBe('h2');
        expect(taken!.token).toBeGreaterThan(lease!.token);
      });
    });
  });
}
