/**
 * The contract of `Storage.commandReplies` (replies to saga commands, kept by the orchestrator), as
 * a Vitest suite run against every adapter: a reply commits with the inbox transaction or not at
 * all, the first reply to a command is kept and a redelivered one ignored, a retry after a
 * takeover finds the newest final answer for its idempotency key, and pruning keeps recent replies.
 */
import { describe, expect, it } from 'vitest';
import type { CommandReplyOutcome, RecordedCommandReply } from '../ports/command-reply-store.js';
import { useMigratedStorage } from './migrated-storage.js';
import type { StorageFactory } from './storage-contract.js';

class Rollback extends Error {}

const KEY = '0190a3f2-saga:billing';
const MINUTE = 60_000;

/** A promise and the function that resolves it. */
function gate(): [Promise<void>, () => void] {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => {
    open = resolve;
  });
  return [opened, open];
}

/** A reply received `minutesAgo` minutes ago; its JSON holds an array, nesting and escapes. */
function reply(
  requestId: string,
  outcome: CommandReplyOutcome,
  minutesAgo: number,
  idempotencyKey = KEY,
): RecordedCommandReply {
  return {
    requestId,
    idempotencyKey,
    outcome,
    reply: { outcome, data: { invoice: `inv-${requestId}`, lines: [1, 2], note: 'ü "quoted"' } },
    receivedAt: new Date(Date.now() - minutesAgo * MINUTE),
  };
}

const byRequestId = (replies: RecordedCommandReply[]) =>
  [...replies].sort((a, b) => a.requestId.localeCompare(b.requestId));

/** Registers the command reply store contract suite. */
export function describeCommandReplyStoreContract(name: string, factory: StorageFactory): void {
  describe(`CommandReplyStore contract: ${name}`, () => {
    const fresh = useMigratedStorage(factory);
    const store = () => fresh.storage.commandReplies;

    const record = (...replies: RecordedCommandReply[]) =>
      fresh.storage.transaction(async (tx) => {
        const written: boolean[] = [];
        for (const each of replies) written.push(await store().record(tx, each));
        return written;
      });

    it('a recorded reply is found by its request id, exactly as recorded', async () => {
      const ok = reply('cmd-1', 'ok', 0);
      const failed = reply('cmd-2', 'failed', 0);
      expect(await record(ok, failed)).toEqual([true, true]);
      expect(byRequestId(await store().forRequests(['cmd-2', 'cmd-1']))).toEqual([ok, failed]);
      expect(await store().forRequests(['cmd-1'])).toEqual([ok]);
    });

    it('forRequests returns nothing for no ids, and leaves out commands without a reply', async () => {
      const ok = reply('cmd-1', 'ok', 0);
      await record(ok);
      expect(await store().forRequests([])).toEqual([]);
      expect(await store().forRequests(['unknown'])).toEqual([]);
      expect(await store().forRequests(['unknown', 'cmd-1'])).toEqual([ok]);
    });

    it('forRequests finds every reply of a long list of waiting commands', async () => {
      const replies = Array.from({ length: 1200 }, (_, i) => reply(`cmd-${i}`, 'ok', 0));
      await record(...replies);
      const ids = [...replies.map((each) => each.requestId), 'unknown'];
      const found = await store().forRequests(ids);
      expect(found).toHaveLength(1200);
      expect(new Set(found.map((each) => each.requestId))).toEqual(new Set(ids.slice(0, 1200)));
    });

    it('a second reply to the same command writes nothing and keeps the first', async () => {
      const first = reply('cmd-1', 'rejected', 1);
      expect(await record(first)).toEqual([true]);
      expect(await record(reply('cmd-1', 'ok', 0))).toEqual([false]);
      expect(await store().forRequests(['cmd-1'])).toEqual([first]);
    });

    it('a reply recorded in a transaction that rolls back leaves nothing, so the redelivery records it', async () => {
      await expect(
        fresh.storage.transaction(async (tx) => {
          await store().record(tx, reply('cmd-1', 'ok', 0));
          throw new Rollback('the inbox handler failed');
        }),
      ).rejects.toThrow(Rollback);
      expect(await store().forRequests(['cmd-1'])).toEqual([]);
      expect(await store().finalFor(KEY)).toBeUndefined();
      expect(await record(reply('cmd-1', 'ok', 0))).toEqual([true]);
    });

    it('a concurrent second reply waits for the first transaction and then writes nothing', async () => {
      const [firstMayCommit, releaseFirst] = gate();
      const [firstHasRecorded, firstRecorded] = gate();
      const first = fresh.storage.transaction(async (tx) => {
        const written = await store().record(tx, reply('cmd-1', 'ok', 1));
        firstRecorded();
        await firstMayCommit;
        return written;
      });
      await firstHasRecorded;
      const second = record(reply('cmd-1', 'failed', 0));
      releaseFirst();
      expect(await first).toBe(true);
      expect(await second).toEqual([false]);
      expect((await store().forRequests(['cmd-1']))[0]?.outcome).toBe('ok');
    });

    it('finalFor gives the newest ok or rejected reply for the key and ignores failed ones', async () => {
      const rejected = reply('cmd-2', 'rejected', 5);
      await record(
        reply('cmd-1', 'ok', 10),
        rejected,
        reply('cmd-3', 'failed', 1),
        reply('cmd-4', 'ok', 0, `${KEY}:compensate`),
      );
      expect(await store().finalFor(KEY)).toEqual(rejected);
      expect((await store().finalFor(`${KEY}:compensate`))?.requestId).toBe('cmd-4');
    });

    it('finalFor is undefined when the key has only failed replies, or none', async () => {
      await record(reply('cmd-1', 'failed', 2), reply('cmd-2', 'failed', 1));
      expect(await store().finalFor(KEY)).toBeUndefined();
      expect(await store().finalFor('another-saga:billing')).toBeUndefined();
    });

    it('a malformed reply is refused with COMMAND_REPLY_INVALID and nothing is written', async () => {
      const bad = { ...reply('cmd-1', 'ok', 0), outcome: 'maybe' as CommandReplyOutcome };
      await expect(record(bad)).rejects.toMatchObject({ code: 'COMMAND_REPLY_INVALID' });
      await expect(record({ ...reply('cmd-1', 'ok', 0), reply: undefined })).rejects.toMatchObject({
        code: 'COMMAND_REPLY_INVALID',
      });
      expect(await store().forRequests(['cmd-1'])).toEqual([]);
    });

    it('prune deletes replies received before the cut-off, at most `limit` per call', async () => {
      const days = 24 * 60;
      await record(
        reply('old-1', 'ok', 10 * days),
        reply('old-2', 'failed', 9 * days),
        reply('old-3', 'rejected', 8 * days),
        reply('fresh', 'ok', 0),
      );
      const cutOff = new Date(Date.now() - days * MINUTE);
      expect(await store().prune(cutOff, 2)).toBe(2);
      expect(await store().prune(cutOff, 2)).toBe(1);
      expect(await store().prune(cutOff, 2)).toBe(0);
      const left = await store().forRequests(['old-1', 'old-2', 'old-3', 'fresh']);
      expect(left.map((each) => each.requestId)).toEqual(['fresh']);
    });
  });
}
