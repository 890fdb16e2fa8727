/**
 * Editing a dead letter's data and replaying it: the operator replaces `data` (audited with the
 * old and new sha256), the running consumer replays the edited message through its inbox, once,
 * in the key's order. Every other envelope attribute stays as it was sent.
 */
import { createHash } from 'node:crypto';
import { beforeEach, describe, expect, it } from 'vitest';
import { editDeadLetter, type Storage, TerminalError } from '../packages/core/src/index.js';
import { waitFor } from '../packages/core/src/testing/wait-for.js';
import { availableBackends, param } from './support/backends.js';
import type { Pipeline } from './support/pipeline.js';
import { usePipeline } from './support/pipeline-fixture.js';

const backends = await availableBackends();
const alice = { actor: 'alice', reason: 'amount had the wrong sign (INC-43)' };
const sha256 = (text: string) => createHash('sha256').update(text, 'utf8').digest('hex');

describe.each(backends)('dead-letter edit on $name', (backend) => {
  const fixture = usePipeline(backend);
  let pipeline: Pipeline;
  beforeEach(async () => {
    pipeline = fixture.pipeline();
    // No unique constraint: a second application of one message would show as a second row.
    await pipeline.consumerDb.transaction((tx) =>
      tx.execute(
        'CREATE TABLE charge (message_id TEXT NOT NULL, key TEXT NOT NULL, amount INTEGER NOT NULL)',
      ),
    );
  });
  const charges = async () =>
    (
      await pipeline.consumerDb.transaction((tx) =>
        tx.query<{ message_id: string; key: string; amount: number | string }>(
          `SELECT message_id, key, amount FROM charge ORDER BY ${backend.name === 'postgres' ? 'ctid' : 'rowid'}`,
        ),
      )
    ).map((row) => ({ messageId: row.message_id, key: row.key, amount: Number(row.amount) }));
  const send = (key: string, amount: number) =>
    pipeline.producer.transaction(async (tx) => {
      const [message] = await pipeline.outbox.append(tx, [
        { type: 'charge.requested', key, data: { amount, currency: 'EUR' } },
      ]);
      return message!;
    });
  const subscribeCharging = () =>
    pipeline.subscribe({}, async (message, tx) => {
      const { amount } = message.data as { amount: number };
      if (amount < 0) throw new TerminalError(`amount ${amount} is negative`);
      await tx.execute(
        `INSERT INTO charge (message_id, key, amount) VALUES (${param(backend, 1)}, ${param(backend, 2)}, ${param(backend, 3)})`,
        [message.id, message.subject, amount],
      );
    });
  const deadLetterOf = async (storage: Storage) => {
    const [letter] = await storage.inbox.listDeadLetters('billing');
    return letter!;
  };

  it('replays the edited message once, in the key order, keeping the other attributes and auditing both hashes', async () => {
    await subscribeCharging();
    await pipeline.startRelay();
    await send('c-1', 5);
    const bad = await send('c-1', -3);
    await send('c-1', 7);
    await waitFor('c-1#3 parked behind the dead letter', async () => {
      const counts = await pipeline.consumerDb.inbox.counts('billing');
      return counts.deadLetters === 1 && counts.parked === 1;
    });
    const before = await deadLetterOf(pipeline.consumerDb);
    expect(before.messageId).toBe(bad.id);

    const dryRun = await editDeadLetter(
      pipeline.consumerDb,
      before.id,
      { amount: 3, currency: 'EUR' },
      alice,
      {
        dryRun: true,
      },
    );
    expect(dryRun.deadLetter.status).toBe('open');
    expect((await deadLetterOf(pipeline.consumerDb)).body).toBe(before.body);

    const edited = await editDeadLetter(
      pipeline.consumerDb,
      before.id,
      { amount: 3, currency: 'EUR' },
      alice,
    );
    expect(edited.deadLetter.status).toBe('replaying');
    expect(edited.previousSha256).toBe(before.bodySha256);
    await waitFor(
      'replayed',
      async () => (await pipeline.consumerDb.inbox.getDeadLetter(before.id))?.status === 'replayed',
    );

    expect(await charges()).toEqual([
      { messageId: expect.any(String), key: 'c-1', amount: 5 },
      { messageId: bad.id, key: 'c-1', amount: 3 },
      { messageId: expect.any(String), key: 'c-1', amount: 7 },
    ]);
    const after = (await pipeline.consumerDb.inbox.getDeadLetter(before.id))!;
    const { data: oldData, ...oldAttributes } = JSON.parse(before.body) as Record<string, unknown>;
    const { data: newData, ...newAttributes } = JSON.parse(after.body) as Record<string, unknown>;
    expect(oldData).toEqual({ amount: -3, currency: 'EUR' });
    expect(newData).toEqual({ amount: 3, currency: 'EUR' });
    expect(newAttributes).toEqual(oldAttributes);
    expect(after.bodySha256).toBe(sha256(after.body));
    expect(after.bodySha256).toBe(edited.sha256);

    const audit = await pipeline.consumerDb.inbox.deadLetterAudit(before.id);
    expect(audit.map((entry) => [entry.actor, entry.action])).toEqual([
      ['converge:billing', 'created'],
      ['alice', 'edited'],
      ['alice', 'replay-requested'],
      ['converge:billing', 'replayed'],
    ]);
    expect(audit[1]!.detail).toBe(
      `${alice.reason} (data replaced: sha256 ${before.bodySha256} -> ${after.bodySha256}, ${before.bodyBytes} -> ${after.bodyBytes} bytes)`,
    );
    await expect(
      editDeadLetter(pipeline.consumerDb, before.id, { amount: 4, currency: 'EUR' }, alice),
    ).rejects.toMatchObject({ code: 'DEAD_LETTER_NOT_OPEN' });
  });

  it('refuses bad data, an unknown id, and a stale edit, changing nothing', async () => {
    await subscribeCharging();
    await pipeline.startRelay();
    await send('c-2', -1);
    await waitFor(
      'dead letter',
      async () => (await pipeline.consumerDb.inbox.counts('billing')).deadLetters === 1,
    );
    const letter = await deadLetterOf(pipeline.consumerDb);

    await expect(
      editDeadLetter(pipeline.consumerDb, letter.id, JSON.parse('{"__proto__":{"admin":true}}'), alice),
    ).rejects.toMatchObject({ code: 'CONFIG_INVALID', message: expect.stringContaining('would be refused') });
    await expect(
      editDeadLetter(pipeline.consumerDb, letter.id, { amount: -1, currency: 'EUR' }, alice),
    ).rejects.toMatchObject({ code: 'CONFIG_INVALID', message: expect.stringContaining('the same as') });
    await expect(editDeadLetter(pipeline.consumerDb, 999_999, { amount: 1 }, alice)).rejects.toMatchObject({
      code: 'DEAD_LETTER_NOT_FOUND',
    });
    await expect(
      editDeadLetter(pipeline.consumerDb, letter.id, { amount: 1 }, { actor: 'alice', reason: ' ' }),
    ).rejects.toMatchObject({ code: 'CONFIG_INVALID' });

    // Another operator's edit landed after this one read the letter: the store refuses to overwrite it.
    const stale = await pipeline.consumerDb.transaction((tx) =>
      pipeline.consumerDb.inbox.replaceDeadLetterBody(
        tx,
        letter.id,
        'not-the-current-sha256',
        { body: '{}', bodySha256: sha256('{}'), bodyBytes: 2 },
        { actor: 'bob', action: 'edited', detail: 'stale' },
      ),
    );
    expect(stale).toBe(false);
    const unchanged = (await pipeline.consumerDb.inbox.getDeadLetter(letter.id))!;
    expect(unchanged).toMatchObject({ status: 'open', body: letter.body, bodySha256: letter.bodySha256 });
    expect(await pipeline.consumerDb.inbox.deadLetterAudit(letter.id)).toHaveLength(1);
  });

  it('refuses a dead letter whose payload was cut at the cap (exit 5 in the CLI)', async () => {
    const storage = pipeline.consumerDb;
    await storage.transaction((tx) =>
      storage.inbox.addDeadLetter(tx, {
        consumer: 'billing',
        messageId: '0193aa71-0000-7000-8000-0000000000aa',
        source: 'customer-profile',
        type: 'charge.requested',
        key: 'c-3',
        sequence: 1,
        reason: 'OVERSIZED',
        errorClass: 'OversizedMessage',
        errorMessage: 'too big',
        fingerprint: 'f',
        attempts: 1,
        policy: 'block-key',
        destination: 'billing',
        headers: {},
        body: '{"id":"0193aa71-0000-7000-8000-0000000000aa","data":{"x":"aaaa',
        bodySha256: 'sha-of-the-whole',
        bodyBytes: 400_000,
        bodyTruncated: true,
        firstFailedAt: new Date(),
        lastFailedAt: new Date(),
      }),
    );
    const letter = await deadLetterOf(storage);
    await expect(editDeadLetter(storage, letter.id, { x: 'small' }, alice)).rejects.toMatchObject({
      code: 'DEAD_LETTER_NOT_REPLAYABLE',
      message: expect.stringContaining('cannot be replayed as it was sent'),
    });
    expect((await storage.inbox.getDeadLetter(letter.id))?.status).toBe('open');
  });
});
