/**
 * Replaying dead letters: an operator asks (from any process), the running consumer applies the
 * message through the same inbox. Nothing takes effect twice, and a block-key key resumes in order:
 * the replayed message first, then the ones that waited behind it. Every step is audited.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { archiveDeadLetter, requestDeadLetterReplay, TerminalError } from '../packages/core/src/index.js';
import { waitFor } from '../packages/core/src/testing/wait-for.js';
import { availableBackends, param } from './support/backends.js';
import type { Pipeline } from './support/pipeline.js';
import { usePipeline } from './support/pipeline-fixture.js';

const backends = await availableBackends();
const alice = { actor: 'alice', reason: 'contract service fixed (INC-42)' };

describe.each(backends)('dead-letter replay on $name', (backend) => {
  const fixture = usePipeline(backend);
  const send = (key: string) => fixture.send(key);
  let pipeline: Pipeline;
  let broken: boolean;
  beforeEach(() => {
    pipeline = fixture.pipeline();
    broken = true;
  });
  const keysAndSequences = async () => (await pipeline.effects()).map((e) => `${e.key}#${e.sequence}`);
  const statusOf = async (id: number) => (await pipeline.consumerDb.inbox.getDeadLetter(id))?.status;

  it('block-key: the replayed message is applied, then the messages that waited behind it, in order, once', async () => {
    await pipeline.subscribe({}, async (message, tx) => {
      if (broken && message.subject === 'bad' && message.sequence === 2)
        throw new TerminalError('contract missing');
      await pipeline.recordEffect(tx, message);
    });
    await pipeline.startRelay();
    for (const key of ['bad', 'bad', 'bad', 'good']) await send(key);
    await waitFor('bad#3 parked behind the dead letter', async () => {
      return (
        (await pipeline.consumerDb.inbox.counts('billing')).parked >= 1 &&
        (await pipeline.effects()).length >= 2
      );
    });
    const [letter] = await pipeline.consumerDb.inbox.listDeadLetters('billing');
    expect(await keysAndSequences()).toEqual(expect.arrayContaining(['bad#1', 'good#1']));

    broken = false;
    const [requested] = await requestDeadLetterReplay(pipeline.consumerDb, [letter!.id], alice);
    expect(requested!.status).toBe('replaying');
    await waitFor('replayed', async () => (await statusOf(letter!.id)) === 'replayed');

    const effects = await keysAndSequences();
    expect(effects.filter((e) => e.startsWith('bad#'))).toEqual(['bad#1', 'bad#2', 'bad#3']);
    expect(effects).toHaveLength(4);
    expect((await pipeline.consumerDb.inbox.counts('billing')).parked).toBe(0);
    // The key flows normally again.
    await send('bad');
    await waitFor('bad#4', async () => (await keysAndSequences()).includes('bad#4'));

    const audit = await pipeline.consumerDb.inbox.deadLetterAudit(letter!.id);
    expect(audit.map((entry) => [entry.actor, entry.action, entry.detail])).toEqual([
      [
        'converge:billing',
        'created',
        'HANDLER_TERMINAL_ERROR after 1 attempt(s): TerminalError: contract missing',
      ],
      ['alice', 'replay-requested', alice.reason],
      ['converge:billing', 'replayed', "applied as sequence 2 of key 'bad'"],
    ]);
    await expect(requestDeadLetterReplay(pipeline.consumerDb, [letter!.id], alice)).rejects.toMatchObject({
      code: 'DEAD_LETTER_NOT_OPEN',
      message: expect.stringContaining('is replayed, not open'),
    });
  });

  it('skip: the replayed message is applied once, out of order, and a second replay has no effect', async () => {
    await pipeline.subscribe({ poisonPolicy: 'skip' }, async (message, tx) => {
      if (broken && message.sequence === 1) throw new TerminalError('not yet');
      await pipeline.recordEffect(tx, message);
    });
    await pipeline.startRelay();
    await send('c-1');
    await send('c-1');
    await waitFor('c-1#2 applied', async () => (await keysAndSequences()).includes('c-1#2'));
    const [letter] = await pipeline.consumerDb.inbox.listDeadLetters('billing');

    broken = false;
    await requestDeadLetterReplay(pipeline.consumerDb, [letter!.id], alice);
    await waitFor('replayed', async () => (await statusOf(letter!.id)) === 'replayed');
    expect(await keysAndSequences()).toEqual(['c-1#2', 'c-1#1']);

    // Reopened by hand and replayed again: the receipt says it was applied, so nothing happens.
    await pipeline.consumerDb.transaction((tx) =>
      tx.execute(
        `UPDATE ${backend.name === 'postgres' ? 'converge.dead_letter' : 'converge_dead_letter'} SET status = 'open' WHERE id = ${param(backend, 1)}`,
        [letter!.id],
      ),
    );
    await requestDeadLetterReplay(pipeline.consumerDb, [letter!.id], alice);
    await waitFor('replayed again', async () => (await statusOf(letter!.id)) === 'replayed');
    expect(await keysAndSequences()).toEqual(['c-1#2', 'c-1#1']);
    const audit = await pipeline.consumerDb.inbox.deadLetterAudit(letter!.id);
    expect(audit.at(-1)?.detail).toBe('already applied; nothing was applied a second time');
  });

  it('a replay that fails again leaves the dead letter open with the new error; archive records the decision', async () => {
    await pipeline.subscribe({ poisonPolicy: 'skip' }, async (message, tx) => {
      if (message.sequence === 1) throw new TerminalError('still broken');
      await pipeline.recordEffect(tx, message);
    });
    await pipeline.startRelay();
    await send('c-1');
    await waitFor(
      'dead letter',
      async () => (await pipeline.consumerDb.inbox.listDeadLetters('billing')).length === 1,
    );
    const [letter] = await pipeline.consumerDb.inbox.listDeadLetters('billing');

    await requestDeadLetterReplay(pipeline.consumerDb, [letter!.id], alice);
    await waitFor('back to open', async () => (await statusOf(letter!.id)) === 'open');
    const audit = await pipeline.consumerDb.inbox.deadLetterAudit(letter!.id);
    expect(audit.at(-1)).toMatchObject({
      action: 'replay-failed',
      detail: 'the handler failed again: TerminalError: still broken',
    });
    expect(await pipeline.effects()).toEqual([]);

    const [archived] = await archiveDeadLetter(pipeline.consumerDb, [letter!.id], {
      actor: 'bob',
      reason: 'customer deleted',
    });
    expect(archived!.status).toBe('archived');
    expect((await pipeline.consumerDb.inbox.deadLetterAudit(letter!.id)).at(-1)).toMatchObject({
      actor: 'bob',
      action: 'archived',
      detail: 'customer deleted',
    });
  });

  it('refuses what cannot be replayed, naming why and what to do', async () => {
    await pipeline.subscribe({});
    await pipeline.transport.publish([
      { messageId: 'junk', source: 'x', type: 'x', key: 'x', body: 'this is not json' },
    ]);
    await waitFor(
      'dead letter',
      async () => (await pipeline.consumerDb.inbox.listDeadLetters('billing')).length === 1,
    );
    const [letter] = await pipeline.consumerDb.inbox.listDeadLetters('billing');
    await expect(requestDeadLetterReplay(pipeline.consumerDb, [letter!.id], alice)).rejects.toMatchObject({
      code: 'DEAD_LETTER_NOT_REPLAYABLE',
      message: expect.stringContaining('archive it instead'),
    });
    await expect(requestDeadLetterReplay(pipeline.consumerDb, [999_999], alice)).rejects.toMatchObject({
      code: 'DEAD_LETTER_NOT_FOUND',
    });
    await expect(
      requestDeadLetterReplay(pipeline.consumerDb, [letter!.id], { actor: 'alice', reason: ' ' }),
    ).rejects.toMatchObject({ code: 'CONFIG_INVALID', details: { field: 'reason' } });
    expect(await statusOf(letter!.id)).toBe('open');
  });
});
