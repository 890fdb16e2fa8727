/**
 * The foundation's promise, end to end on each backend: a business change and its message commit
 * together; the consumer applies each message once, in per-key order, whatever order and however
 * often the transport delivers; failures retry, and what keeps failing becomes a dead letter.
 */
import { createHash } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConvergeError, type Envelope, TerminalError } from '../packages/core/src/index.js';
import { waitFor } from '../packages/core/src/testing/wait-for.js';
import { availableBackends, param, type TestDatabases } from './support/backends.js';
import { envelopeBody } from './support/envelope-body.js';
import { createPipeline, type Pipeline } from './support/pipeline.js';

const backends = await availableBackends();

function wire(envelope: Envelope) {
  return {
    messageId: envelope.id,
    source: envelope.source,
    type: envelope.type,
    key: envelope.subject,
    body: JSON.stringify(envelope),
  };
}

describe.each(backends)('pipeline on $name', (backend) => {
  let databases: TestDatabases;
  let pipeline: Pipeline;
  const p = (i: number) => param(backend, i);

  beforeEach(async () => {
    databases = (await backend.create())!;
    pipeline = await createPipeline(backend, databases);
    await pipeline.producer.transaction((tx) =>
      tx.execute('CREATE TABLE customer (id TEXT PRIMARY KEY, status TEXT NOT NULL)'),
    );
  });
  afterEach(async () => {
    await pipeline.stop();
    await databases.cleanup();
  });

  /** Appends messages the way a producer service would: with its business change, in one transaction. */
  const unsubscribe = (id: string, type = 'customer.unsubscribed') =>
    pipeline.producer.transaction(async (tx) => {
      await tx.execute(
        `INSERT INTO customer (id, status) VALUES (${p(1)}, 'unsubscribed') ON CONFLICT (id) DO UPDATE SET status = 'unsubscribed'`,
        [id],
      );
      const [message] = await pipeline.outbox.append(tx, [{ type, key: id, data: { customerId: id } }]);
      return message!;
    });

  it('a relay and a consumer refuse to start against a database migrated by a newer Converge', async () => {
    for (const storage of [pipeline.producer, pipeline.consumerDb]) {
      await storage.transaction((tx) =>
        backend.name === 'postgres'
          ? tx.execute(
              "INSERT INTO converge.schema_migrations (version, name) VALUES (999, 'from the future')",
            )
          : tx.execute(
              "INSERT INTO converge_schema_migrations (version, name, applied_at) VALUES (999, 'from the future', 0)",
            ),
      );
    }
    await expect(pipeline.startRelay()).rejects.toMatchObject({
      code: 'SCHEMA_TOO_NEW',
      message: expect.stringMatching(/version 999.*upgrade @converge\/core/),
    });
    await expect(pipeline.subscribe({})).rejects.toMatchObject({ code: 'SCHEMA_TOO_NEW' });
  });

  it('applies a committed business change exactly once in the consumer, and nothing of a rolled-back one', async () => {
    await pipeline.subscribe({});
    await pipeline.startRelay();
    const sent = await unsubscribe('c-1');
    await expect(
      pipeline.producer.transaction(async (tx) => {
        await pipeline.outbox.append(tx, [{ type: 'customer.unsubscribed', key: 'c-2', data: {} }]);
        throw new Error('credit check failed');
      }),
    ).rejects.toThrow('credit check failed');
    await unsubscribe('c-3');
    await waitFor('two effects', async () => (await pipeline.effects()).length >= 2);
    await pipeline.relays[0]!.publishOnce();
    const effects = await pipeline.effects();
    expect(effects.map((e) => e.key)).toEqual(['c-1', 'c-3']);
    expect(effects[0]).toMatchObject({ messageId: sent.id, sequence: 1, type: 'customer.unsubscribed' });
  });

  it('a message the outbox rejects throws a ConvergeError naming the field, and the business change does not commit', async () => {
    const attempt = pipeline.producer.transaction(async (tx) => {
      await tx.execute(`INSERT INTO customer (id, status) VALUES (${p(1)}, 'unsubscribed')`, ['c-9']);
      await pipeline.outbox.append(tx, [
        { type: 'customer.unsubscribed', key: 'c-9', data: {} },
        { type: 'customer.unsubscribed', key: 'c-9', data: { amount: Number.NaN } },
      ]);
    });
    await expect(attempt).rejects.toBeInstanceOf(ConvergeError);
    await expect(attempt).rejects.toMatchObject({
      code: 'MESSAGE_INVALID',
      details: { index: 1, field: 'data.amount' },
    });
    const rows = await pipeline.producer.transaction((tx) => tx.query('SELECT id FROM customer'));
    expect(rows).toEqual([]);
    expect((await pipeline.producer.outbox.status()).backlog).toBe(0);
    const next = await unsubscribe('c-9');
    expect(next.sequence).toBe(1);
  });

  it('applies each key in sequence order however the transport shuffles and repeats it, without holding up other keys', async () => {
    const sent: Envelope[] = [];
    for (let round = 0; round < 4; round += 1)
      for (const key of ['a', 'b', 'c']) sent.push(await unsubscribe(key));
    const claim = await pipeline.producer.outbox.claim({ relayId: 'test', limit: 100, leaseMs: 10_000 });
    await claim!.release();
    // Deliver backwards, each twice, and key 'c' without its first message for now.
    const withoutC1 = sent.filter((m) => !(m.subject === 'c' && m.sequence === 1));
    const shuffled = [...withoutC1].reverse();
    await pipeline.transport.publish([...shuffled, ...shuffled].map(wire));
    await pipeline.subscribe({});
    await waitFor('keys a and b applied', async () => (await pipeline.effects()).length >= 8);
    let effects = await pipeline.effects();
    expect(effects.filter((e) => e.key === 'c')).toEqual([]);
    await pipeline.transport.publish([wire(sent.find((m) => m.subject === 'c' && m.sequence === 1)!)]);
    await waitFor('key c applied', async () => (await pipeline.effects()).length >= 12);
    effects = await pipeline.effects();
    expect(effects).toHaveLength(12);
    for (const key of ['a', 'b', 'c']) {
      expect(effects.filter((e) => e.key === key).map((e) => e.sequence)).toEqual([1, 2, 3, 4]);
    }
    expect((await pipeline.consumerDb.inbox.counts('billing')).parked).toBe(0);
  });

  it('acknowledges types it does not handle without effect, so the key never waits for them', async () => {
    await pipeline.subscribe({ types: ['customer.unsubscribed'] });
    await pipeline.startRelay();
    await unsubscribe('c-1');
    await unsubscribe('c-1', 'customer.renamed');
    await unsubscribe('c-1');
    await waitFor('two effects', async () => (await pipeline.effects()).length >= 2);
    const effects = await pipeline.effects();
    expect(effects.map((e) => e.sequence)).toEqual([1, 3]);
    expect((await pipeline.consumerDb.inbox.counts('billing')).receipts).toBe(3);
  });

  it('retries a failing handler with backoff, rolls back its partial writes, and applies it once when it recovers', async () => {
    let failures = 0;
    await pipeline.subscribe(
      { retry: { maxAttempts: 10, initialDelayMs: 5, maxDelayMs: 20 } },
      async (message, tx) => {
        await pipeline.recordEffect(tx, message);
        if (failures < 3) {
          failures += 1;
          throw new Error('billing provider unavailable');
        }
      },
    );
    await pipeline.startRelay();
    await unsubscribe('c-1');
    await unsubscribe('c-1');
    await waitFor('both applied', async () => (await pipeline.effects()).length >= 2);
    expect(failures).toBe(3);
    expect((await pipeline.effects()).map((e) => e.sequence)).toEqual([1, 2]);
    expect(await pipeline.consumerDb.inbox.counts('billing')).toMatchObject({
      parked: 0,
      deadLetters: 0,
      receipts: 2,
    });
  });

  it('block-key: a terminal failure becomes a dead letter and holds back only its own key', async () => {
    await pipeline.subscribe({}, async (message, tx) => {
      if (message.subject === 'bad' && message.sequence === 2)
        throw new TerminalError('contract not found for customer bad');
      await pipeline.recordEffect(tx, message);
    });
    await pipeline.startRelay();
    for (const key of ['bad', 'bad', 'bad', 'good', 'good']) await unsubscribe(key);
    await waitFor('good key and first bad applied', async () => (await pipeline.effects()).length >= 3);
    await waitFor(
      'later bad message parked',
      async () => (await pipeline.consumerDb.inbox.counts('billing')).parked >= 1,
    );
    const effects = await pipeline.effects();
    expect(effects.filter((e) => e.key === 'bad').map((e) => e.sequence)).toEqual([1]);
    expect(effects.filter((e) => e.key === 'good').map((e) => e.sequence)).toEqual([1, 2]);
    const [letter] = await pipeline.consumerDb.inbox.listDeadLetters('billing');
    expect(letter).toMatchObject({
      reason: 'HANDLER_TERMINAL_ERROR',
      key: 'bad',
      sequence: 2,
      policy: 'block-key',
      attempts: 1,
      errorClass: 'TerminalError',
      errorMessage: 'contract not found for customer bad',
    });
    expect(JSON.parse(letter!.body)).toMatchObject({ subject: 'bad', sequence: 2 });
    // Everything an operator needs to understand it, group it and replay it later.
    expect(letter).toMatchObject({
      status: 'open',
      destination: 'billing',
      fingerprint: expect.stringMatching(/^[0-9a-f]{16}$/),
      headers: { subject: 'bad', sequence: '2', source: 'customer-profile', type: 'customer.unsubscribed' },
      bodyBytes: Buffer.byteLength(letter!.body),
      bodySha256: createHash('sha256').update(letter!.body).digest('hex'),
      bodyTruncated: false,
    });
    expect(letter!.headers).not.toHaveProperty('data');
    expect(await pipeline.consumerDb.inbox.deadLetterAudit(letter!.id)).toEqual([
      {
        at: expect.any(Date),
        actor: 'converge:billing',
        action: 'created',
        detail:
          'HANDLER_TERMINAL_ERROR after 1 attempt(s): TerminalError: contract not found for customer bad',
      },
    ]);
  });

  it('skip: after a dead letter the key moves on', async () => {
    await pipeline.subscribe(
      { poisonPolicy: 'skip', retry: { maxAttempts: 2, initialDelayMs: 5, maxDelayMs: 10 } },
      async (message, tx) => {
        if (message.sequence === 1) throw new Error('always fails');
        await pipeline.recordEffect(tx, message);
      },
    );
    await pipeline.startRelay();
    await unsubscribe('c-1');
    await unsubscribe('c-1');
    await waitFor('second applied', async () => (await pipeline.effects()).length >= 1);
    expect((await pipeline.effects()).map((e) => e.sequence)).toEqual([2]);
    const letters = await pipeline.consumerDb.inbox.listDeadLetters('billing');
    expect(letters.map((d) => [d.reason, d.sequence, d.attempts, d.policy])).toEqual([
      ['HANDLER_RETRIES_EXHAUSTED', 1, 2, 'skip'],
    ]);
  });

  it('dead-letters malformed and oversized messages and keeps going', async () => {
    await pipeline.subscribe({ maxMessageBytes: 2048 });
    const big = await pipeline.producer.transaction((tx) =>
      pipeline.outbox.append(tx, [
        { type: 'customer.unsubscribed', key: 'big', data: { note: 'x'.repeat(4096) } },
      ]),
    );
    await pipeline.transport.publish([
      { messageId: 'junk', source: 'x', type: 'x', key: 'x', body: 'this is not json' },
      {
        messageId: 'nokey',
        source: 'x',
        type: 'x',
        key: 'x',
        body: JSON.stringify({ id: 'nokey', source: 'x', type: 'x', sequence: 1 }),
      },
      wire(big[0]!),
    ]);
    await pipeline.startRelay();
    const ok = await unsubscribe('c-1');
    await waitFor('the good message', async () => (await pipeline.effects()).length >= 1);
    await waitFor(
      'three dead letters',
      async () => (await pipeline.consumerDb.inbox.listDeadLetters('billing')).length >= 3,
    );
    const letters = await pipeline.consumerDb.inbox.listDeadLetters('billing');
    expect(letters.map((d) => d.reason).sort()).toEqual(['MALFORMED', 'MISSING_ATTRIBUTE', 'OVERSIZED']);
    expect(letters.find((d) => d.reason === 'MALFORMED')?.body).toBe('this is not json');
    expect(letters.find((d) => d.reason === 'MISSING_ATTRIBUTE')?.errorMessage).toContain('subject');
    expect((await pipeline.effects()).map((e) => e.messageId)).toContain(ok.id);
  });

  it('a body that is no envelope, delivered again (as after a crash before the acknowledgement), stays one dead letter', async () => {
    await pipeline.subscribe({});
    const garbage = { messageId: 'g', source: 'x', type: 'x', key: 'x', body: '{"id": "g", "specversion":' };
    const other = { ...garbage, messageId: 'h', body: 'another kind of garbage' };
    await pipeline.transport.publish([garbage, other, garbage]);
    await pipeline.transport.publish([garbage]);
    const ok = await unsubscribe('c-1');
    await pipeline.startRelay();
    await waitFor('the good message', async () =>
      (await pipeline.effects()).some((e) => e.messageId === ok.id),
    );
    const letters = await pipeline.consumerDb.inbox.listDeadLetters('billing');
    expect(letters.map((d) => d.body).sort()).toEqual([garbage.body, other.body].sort());
    const first = letters.find((d) => d.body === garbage.body)!;
    const trail = await pipeline.consumerDb.inbox.deadLetterAudit(first.id);
    expect(trail.map((entry) => entry.action)).toEqual(['created', 'delivered-again', 'delivered-again']);
    expect(trail.every((entry) => entry.actor.startsWith('converge:'))).toBe(true);
  });

  it('a body damaged by invalid UTF-8 is MALFORMED where its data would be used, under the poison policy; an ignored type is ignored', async () => {
    await pipeline.subscribe({ types: ['customer.unsubscribed'] });
    const damaged = (type: string, key: string, sequence: number) => {
      const [before, after] = envelopeBody({ type, subject: key, sequence, data: { name: 'Jos<>' } }).split(
        '<>',
      );
      const bytes = Buffer.concat([Buffer.from(before!), Buffer.from([0xc3]), Buffer.from(after!)]);
      return { messageId: `${key}-${sequence}`, source: 'x', type, key, body: bytes.toString('utf8') };
    };
    await pipeline.transport.publish([
      damaged('customer.unsubscribed', 'c-1', 1),
      { ...damaged('customer.unsubscribed', 'c-1', 2), body: envelopeBody({ subject: 'c-1', sequence: 2 }) },
      damaged('customer.renamed', 'c-2', 1),
      { ...damaged('customer.unsubscribed', 'c-2', 2), body: envelopeBody({ subject: 'c-2', sequence: 2 }) },
    ]);
    await waitFor('c-2#2', async () => (await pipeline.effects()).some((e) => e.key === 'c-2'));
    const [letter, ...others] = await pipeline.consumerDb.inbox.listDeadLetters('billing');
    expect(others).toEqual([]);
    expect(letter).toMatchObject({ reason: 'MALFORMED', key: 'c-1', sequence: 1, policy: 'block-key' });
    expect(letter!.errorMessage).toMatch(/U\+FFFD \(the replacement character\) at offset \d+/);
    expect((await pipeline.effects()).map((e) => `${e.key}#${e.sequence}`)).toEqual(['c-2#2']);
    expect((await pipeline.consumerDb.inbox.counts('billing')).parked).toBe(1);
  });

  it('an append that fails on an id already in the outbox uses up no sequence, even when the caller catches the error and commits', async () => {
    const first = await pipeline.producer.transaction((tx) =>
      pipeline.outbox.append(tx, [{ type: 'customer.unsubscribed', key: 'c-1', data: { n: 1 } }]),
    );
    let failure: unknown = null;
    const committed = await pipeline.producer
      .transaction(async (tx) => {
        failure = await pipeline.outbox
          .append(tx, [
            { type: 'customer.unsubscribed', key: 'c-1', data: { n: 2 } },
            { type: 'customer.unsubscribed', key: 'c-1', data: { n: 3 }, id: first[0]!.id },
          ])
          .then(
            () => null,
            (error: unknown) => error,
          );
      })
      .then(
        () => 'committed',
        (error: unknown) => error,
      );
    // SQLite commits the rest of the transaction; PostgreSQL refuses to commit a transaction
    // whose statement failed, and says so.
    if (backend.name === 'postgres') expect(committed).toMatchObject({ code: 'TRANSACTION_ABORTED' });
    else expect(committed).toBe('committed');
    expect(failure).toMatchObject({ code: 'MESSAGE_ID_CONFLICT', details: { field: 'id' } });
    const [next] = await pipeline.producer.transaction((tx) =>
      pipeline.outbox.append(tx, [{ type: 'customer.unsubscribed', key: 'c-1', data: { n: 4 } }]),
    );
    expect(next!.sequence).toBe(2);
    await pipeline.subscribe({});
    await pipeline.startRelay();
    await waitFor('both messages applied', async () => (await pipeline.effects()).length >= 2);
    expect((await pipeline.effects()).map((e) => e.sequence)).toEqual([1, 2]);
  });

  it('several relays at once publish everything, and every message takes effect once', async () => {
    await pipeline.subscribe({});
    await Promise.all([pipeline.startRelay(), pipeline.startRelay(), pipeline.startRelay()]);
    const keys = Array.from({ length: 20 }, (_, i) => `k${i}`);
    await Promise.all(
      keys.map(async (key) => {
        for (let i = 0; i < 10; i += 1) await unsubscribe(key);
      }),
    );
    await waitFor('200 effects', async () => (await pipeline.effects()).length >= 200);
    const effects = await pipeline.effects();
    expect(new Set(effects.map((e) => e.messageId)).size).toBe(200);
    for (const key of keys) {
      expect(effects.filter((e) => e.key === key).map((e) => e.sequence)).toEqual([
        1, 2, 3, 4, 5, 6, 7, 8, 9, 10,
      ]);
    }
  });
});
