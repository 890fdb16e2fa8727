/**
 * DUPLICATE_ID_CONFLICT: a message that reuses the id of a message the consumer already received,
 * with another payload or for another position, is dead-lettered and never applied; the same
 * message received again (even re-sent with a new `time`) stays a harmless duplicate. Checked
 * where the id can already be known: a receipt (found by the receipt insert, or on a repeat), a
 * parked message, and within one batch.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import {
  type Envelope,
  newMessageId,
  requestDeadLetterReplay,
  type StoredDeadLetter,
} from '../packages/core/src/index.js';
import { waitFor } from '../packages/core/src/testing/wait-for.js';
import { availableBackends } from './support/backends.js';
import { envelopeBody } from './support/envelope-body.js';
import type { Pipeline } from './support/pipeline.js';
import { usePipeline } from './support/pipeline-fixture.js';

const backends = await availableBackends();
const alice = { actor: 'alice', reason: 'the producer confirmed both are real (INC-51)' };

const body = (fields: Partial<Envelope> & { subject: string; sequence: number }) => envelopeBody(fields);

describe.each(backends)('duplicate message ids on $name', (backend) => {
  const fixture = usePipeline(backend);
  let pipeline: Pipeline;
  let sentinels = 0;
  beforeEach(async () => {
    pipeline = fixture.pipeline();
    sentinels = 0;
    // `effect.message_id` is unique: record the position too, since two messages here share an id.
    await pipeline.subscribe({}, (message, tx) =>
      pipeline.recordEffect(tx, { ...message, id: `${message.id}@${message.subject}#${message.sequence}` }),
    );
  });

  /** Publishes `bodies` in one batch, then waits until the consumer got past all of them. */
  async function deliver(...bodies: string[]): Promise<void> {
    sentinels += 1;
    const all = [...bodies, body({ subject: 'sentinel', sequence: sentinels })];
    await pipeline.transport.publish(
      all.map((text, i) => ({
        messageId: `m-${sentinels}-${i}`,
        source: 'customer-profile',
        type: 'customer.unsubscribed',
        key: 'any',
        body: text,
      })),
    );
    await waitFor(`sentinel ${sentinels}`, async () =>
      (await pipeline.effects()).some((e) => e.key === 'sentinel' && e.sequence === sentinels),
    );
  }
  const effectsOf = async (key: string) =>
    (await pipeline.effects()).filter((e) => e.key === key).map((e) => `${e.key}#${e.sequence}`);
  const letters = (): Promise<StoredDeadLetter[]> => pipeline.consumerDb.inbox.listDeadLetters('billing');

  it('the same message again, byte for byte or re-sent with a new time, is a harmless duplicate', async () => {
    const id = newMessageId();
    const first = body({ id, subject: 'a', sequence: 1, data: { n: 1 } });
    await deliver(first, first);
    const resent = { ...JSON.parse(first), time: '2030-01-01T00:00:00.000Z', traceparent: undefined };
    await deliver(first, JSON.stringify(resent));
    expect(await effectsOf('a')).toEqual(['a#1']);
    expect(await letters()).toEqual([]);
  });

  it('another payload under an applied id, for another key: dead-lettered after 0 attempts, only its key waits; a replay applies it', async () => {
    const id = newMessageId();
    // One batch: the receipt insert of the second message finds the first one's receipt.
    await deliver(
      body({ id, subject: 'a', sequence: 1, data: { n: 1 } }),
      body({ id, subject: 'b', sequence: 1, data: { n: 2 } }),
      body({ subject: 'b', sequence: 2 }),
    );
    const [letter] = await letters();
    expect(letter).toMatchObject({
      reason: 'DUPLICATE_ID_CONFLICT',
      messageId: id,
      key: 'b',
      sequence: 1,
      attempts: 0,
      policy: 'block-key',
      errorClass: 'DuplicateIdConflict',
    });
    expect(letter!.errorMessage).toContain("was already received for source 'customer-profile', key 'a'");
    expect(await effectsOf('a')).toEqual(['a#1']);
    expect(await effectsOf('b')).toEqual([]);
    await deliver(body({ subject: 'a', sequence: 2 }));
    expect(await effectsOf('a')).toEqual(['a#1', 'a#2']);

    await requestDeadLetterReplay(pipeline.consumerDb, [letter!.id], alice);
    await waitFor('b applied', async () => (await effectsOf('b')).length === 2);
    expect(await effectsOf('b')).toEqual(['b#1', 'b#2']);
    expect((await pipeline.consumerDb.inbox.getDeadLetter(letter!.id))?.status).toBe('replayed');
    // The id's receipt is still the first message's.
    const receipt = await pipeline.consumerDb.transaction((tx) =>
      pipeline.consumerDb.inbox.findReceipt(tx, 'billing', id),
    );
    expect(receipt).toMatchObject({ key: 'a', sequence: 1, outcome: 'applied' });
  });

  it('another payload at an applied position: dead-lettered, the key goes on; a replay does not apply the position twice', async () => {
    const id = newMessageId();
    await deliver(body({ id, subject: 'a', sequence: 1, data: { n: 1 } }));
    await deliver(
      body({ id, subject: 'a', sequence: 1, data: { n: 'changed' } }),
      body({ subject: 'a', sequence: 2 }),
    );
    expect(await effectsOf('a')).toEqual(['a#1', 'a#2']);
    const [letter] = await letters();
    expect(letter).toMatchObject({ reason: 'DUPLICATE_ID_CONFLICT', key: 'a', policy: 'skip', attempts: 0 });
    expect(letter!.errorMessage).toContain('with another payload');

    await requestDeadLetterReplay(pipeline.consumerDb, [letter!.id], alice);
    await waitFor('replay answered', async () => {
      const audit = await pipeline.consumerDb.inbox.deadLetterAudit(letter!.id);
      return audit.some((entry) => entry.action === 'replay-failed');
    });
    expect((await pipeline.consumerDb.inbox.getDeadLetter(letter!.id))?.status).toBe('open');
    expect(await effectsOf('a')).toEqual(['a#1', 'a#2']);
  });

  it('another payload under the id of a parked message: dead-lettered, the parked one is applied in its turn', async () => {
    const id = newMessageId();
    const waiting = body({ id, subject: 'a', sequence: 2, data: { n: 2 } });
    await deliver(waiting);
    await deliver(
      waiting,
      body({ id, subject: 'a', sequence: 2, data: { n: 'other' } }),
      body({ id, subject: 'a', sequence: 5, data: { n: 5 } }),
    );
    expect((await letters()).map((l) => [l.reason, l.sequence, l.policy])).toEqual([
      ['DUPLICATE_ID_CONFLICT', 2, 'skip'],
      ['DUPLICATE_ID_CONFLICT', 5, 'skip'],
    ]);
    await deliver(body({ subject: 'a', sequence: 1 }));
    const applied = await pipeline.effects();
    expect(applied.filter((e) => e.key === 'a').map((e) => [e.sequence, e.messageId])).toEqual([
      [1, expect.any(String)],
      [2, `${id}@a#2`],
    ]);
    expect((await pipeline.consumerDb.inbox.counts('billing')).parked).toBe(0);
  });

  it('a receipt without a payload hash (written before schema version 3) gives the same position the benefit of the doubt', async () => {
    const id = newMessageId();
    await pipeline.consumerDb.transaction(async (tx) => {
      const inbox = pipeline.consumerDb.inbox;
      const position = { source: 'customer-profile', key: 'a', sequence: 1 };
      await inbox.recordReceipt(tx, 'billing', {
        messageId: id,
        ...position,
        outcome: 'applied',
        payloadHash: null,
      });
      await inbox.setKey(tx, 'billing', 'customer-profile', 'a', { lastSequence: 1, blockedBy: null });
    });
    await deliver(
      body({ id, subject: 'a', sequence: 1, data: { n: 'whatever' } }),
      body({ id, subject: 'b', sequence: 1 }),
    );
    // Same position: a repeat. Another position: a conflict, hash or not.
    expect((await letters()).map((l) => [l.reason, l.key])).toEqual([['DUPLICATE_ID_CONFLICT', 'b']]);
    expect(await effectsOf('a')).toEqual([]);
  });
});
