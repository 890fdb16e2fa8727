/**
 * A poison battery mixed into a healthy stream (about 1 bad message in 100), generated with
 * fast-check from a fixed seed: each bad message lands as a dead letter with the expected reason
 * after at most one attempt, the consumer keeps running, every healthy message is applied once in
 * per-key order, no healthy key is held back, and nothing pollutes a prototype.
 *
 * Bad messages carry keys of their own (`poison-…`), so the test can tell that the healthy keys
 * were never blocked — except a message that reuses the id of the healthy message before it at
 * that message's own position, which must not block the healthy key either. A handler that hangs
 * is the one transient kind: it lands as `HANDLER_TIMEOUT` after `MAX_ATTEMPTS` attempts, and the
 * writes it tries once its time is up are refused.
 *
 * Non-UTF-8 bytes: the transports carry bodies as text, so invalid bytes arrive as U+FFFD (the
 * decoder's replacement character) and a producer's lone surrogate arrives as itself or as U+FFFD,
 * depending on the backend; either way the message is `MALFORMED`.
 */
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Envelope, MessageHandler } from '../packages/core/src/index.js';
import { waitFor } from '../packages/core/src/testing/wait-for.js';
import { availableBackends, type TestDatabases } from './support/backends.js';
import { envelopeBody } from './support/envelope-body.js';
import { createPipeline, type Pipeline } from './support/pipeline.js';

const backends = await availableBackends();
const SEED = 20261125;
const HEALTHY_KEYS = 50;
const HEALTHY_PER_KEY = 40; // 2,000 healthy messages
const MAX_MESSAGE_BYTES = 4096;
const MAX_ATTEMPTS = 3;
/** Far above what one INSERT takes, even on a loaded machine; a hanging handler never returns. */
const HANDLER_TIMEOUT_MS = 500;

type Reason =
  | 'MALFORMED'
  | 'MISSING_ATTRIBUTE'
  | 'UNKNOWN_TYPE'
  | 'OVERSIZED'
  | 'SCHEMA_INVALID'
  | 'DUPLICATE_ID_CONFLICT'
  | 'HANDLER_TIMEOUT';

/** The payload schema of the healthy type: `n`, when present, is an integer. */
const SCHEMAS = {
  'customer.unsubscribed': { type: 'object', properties: { n: { type: 'integer' } } },
};

interface Poison {
  readonly kind: string;
  readonly body: string;
  readonly reason: Reason;
  /** Attempts its dead letter shows; default at most 1. */
  readonly attempts?: number;
  /** A message reusing an id: its body, made from the healthy message just before it in the stream. */
  readonly clash?: (earlier: Envelope<{ n: number }>) => string;
}

/** `text` with `<>` replaced by `bytes`, decoded as UTF-8 the way a text transport would. */
const withBytes = (text: string, bytes: readonly number[]) => {
  const [before, after] = text.split('<>');
  return Buffer.concat([Buffer.from(before!), Buffer.from(bytes), Buffer.from(after!)]).toString('utf8');
};

const envelope = envelopeBody;

/** One arbitrary per kind of poison, each with the reason code it must get. */
function poisonKinds(serial: () => number): fc.Arbitrary<Poison>[] {
  const key = () => `poison-${serial()}`;
  return [
    fc
      .string({ minLength: 1, maxLength: 40 })
      .filter((text) => {
        try {
          JSON.parse(text);
          return false;
        } catch {
          return true;
        }
      })
      .map((body) => ({ kind: 'invalid JSON', body, reason: 'MALFORMED' as const })),
    fc
      .oneof(fc.integer(), fc.array(fc.integer(), { maxLength: 3 }), fc.constant(null))
      .map((value) => ({ kind: 'not an object', body: JSON.stringify(value), reason: 'MALFORMED' as const })),
    fc.constantFrom('id', 'source', 'type', 'subject').map((field) => ({
      kind: `missing ${field}`,
      body: envelope({ subject: key(), [field]: undefined }),
      reason: 'MISSING_ATTRIBUTE' as const,
    })),
    fc.stringMatching(/^[a-z]{3,10}\.[a-z]{3,10}$/).map((type) => ({
      kind: 'unknown type',
      body: envelope({ subject: key(), type: `x.${type}` }),
      reason: 'UNKNOWN_TYPE' as const,
    })),
    fc.integer({ min: MAX_MESSAGE_BYTES, max: 4 * MAX_MESSAGE_BYTES }).map((size) => ({
      kind: 'oversized',
      body: envelope({ subject: key(), data: { blob: 'x'.repeat(size) } }),
      reason: 'OVERSIZED' as const,
    })),
    fc
      .oneof(fc.string(), fc.boolean(), fc.double({ noInteger: true, noNaN: true, noDefaultInfinity: true }))
      .map((n) => ({
        kind: 'schema invalid',
        body: envelope({ subject: key(), data: { n } }),
        reason: 'SCHEMA_INVALID' as const,
      })),
    fc.integer({ min: 65, max: 2000 }).map((depth) => ({
      kind: 'deep nesting',
      body: envelope({ subject: key(), data: JSON.parse(`${'['.repeat(depth)}1${']'.repeat(depth)}`) }),
      reason: 'MALFORMED' as const,
    })),
    fc.constantFrom('__proto__', 'constructor').map((name) => ({
      kind: `${name} key`,
      body: envelope({ subject: key() }).replace(
        '"data":{}',
        name === '__proto__'
          ? '"data":{"__proto__":{"polluted":true}}'
          : '"data":{"constructor":{"prototype":{"polluted":true}}}',
      ),
      reason: 'MALFORMED' as const,
    })),
    fc.integer({ min: 1, max: 1000 }).map((n): Poison => {
      const own = key();
      return {
        kind: 'same id, another key',
        body: '',
        reason: 'DUPLICATE_ID_CONFLICT',
        clash: (earlier) => envelope({ id: earlier.id, subject: own, data: { n } }),
      };
    }),
    fc.integer({ min: 1000, max: 2000 }).map(
      (n): Poison => ({
        kind: 'same id and position, another payload',
        body: '',
        reason: 'DUPLICATE_ID_CONFLICT',
        clash: (earlier) =>
          envelope({
            id: earlier.id,
            subject: earlier.subject,
            sequence: earlier.sequence,
            data: { n: earlier.data.n + n },
          }),
      }),
    ),
    fc.constantFrom([0x80], [0xbf], [0xc3], [0xed, 0xa0], [0xf0, 0x9f], [0xfe], [0xff]).map((bytes) => ({
      kind: 'invalid UTF-8 bytes in data',
      body: withBytes(envelope({ subject: key(), data: { text: 'caf<>' } }), bytes),
      reason: 'MALFORMED' as const,
    })),
    fc.constantFrom([0xc0, 0xaf], [0xff]).map((bytes) => ({
      kind: 'invalid UTF-8 bytes in the key',
      body: withBytes(envelope({ subject: `${key()}<>` }), bytes),
      reason: 'MALFORMED' as const,
    })),
    fc.integer({ min: 0xd800, max: 0xdfff }).map((unit) => ({
      kind: 'lone surrogate in data',
      body: envelope({ subject: key(), data: { text: 'x<>y' } }).replace('<>', String.fromCharCode(unit)),
      reason: 'MALFORMED' as const,
    })),
    fc.constant(null).map(() => ({
      kind: 'handler hangs',
      body: envelope({ subject: key(), data: { hang: true } }),
      reason: 'HANDLER_TIMEOUT' as const,
      attempts: MAX_ATTEMPTS,
    })),
  ];
}

const subjectOf = (body: string): unknown => {
  try {
    return (JSON.parse(body) as { subject?: unknown }).subject;
  } catch {
    return undefined;
  }
};

/** Inserts `poisons` evenly into `healthy`; a clash takes the id of the healthy message before it. */
function mix(healthy: readonly string[], poisons: readonly Poison[]): { stream: string[]; placed: Poison[] } {
  const stream = [...healthy];
  const isHealthy = new Set(healthy);
  const placed: Poison[] = [];
  poisons.forEach((poison, i) => {
    const at = Math.floor(((i + 1) * stream.length) / (poisons.length + 1));
    let before = at - 1;
    while (!isHealthy.has(stream[before]!)) before -= 1;
    const body = poison.clash === undefined ? poison.body : poison.clash(JSON.parse(stream[before]!));
    stream.splice(at, 0, body);
    placed.push({ ...poison, body });
  });
  return { stream, placed };
}

describe.each(backends)('poison battery on $name', (backend) => {
  let databases: TestDatabases;
  let pipeline: Pipeline;

  beforeEach(async () => {
    databases = (await backend.create())!;
    pipeline = await createPipeline(backend, databases);
  });
  afterEach(async () => {
    await pipeline.stop();
    await databases.cleanup();
  });

  it('dead-letters every bad message with its reason after at most one attempt (a hanging handler after its retries), and the healthy stream flows on', async () => {
    let serial = 0;
    const sampled = fc.sample(fc.oneof(...poisonKinds(() => ++serial)), { numRuns: 24, seed: SEED });
    // Every kind at least once, whatever the sample drew.
    for (const kind of poisonKinds(() => ++serial))
      sampled.push(...fc.sample(kind, { numRuns: 1, seed: SEED }));

    const healthy: string[] = [];
    for (let n = 1; n <= HEALTHY_PER_KEY; n += 1) {
      for (let k = 0; k < HEALTHY_KEYS; k += 1) {
        healthy.push(envelope({ subject: `customer-${k}`, sequence: n, data: { n } }));
      }
    }
    // About one bad message in a hundred, spread through the stream.
    const { stream, placed: poisons } = mix(healthy, sampled);

    // A hanging handler waits until the end of the test, then tries to write through its `tx`.
    let release = () => {};
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    const lateWrites: Promise<void>[] = [];
    const handler: MessageHandler = async (message, tx) => {
      if ((message.data as { hang?: unknown }).hang === true) {
        const late = released.then(() => pipeline.recordEffect(tx, message));
        lateWrites.push(late);
        await late;
      }
      await pipeline.recordEffect(tx, message);
    };
    await pipeline.subscribe(
      {
        types: ['customer.unsubscribed'],
        rejectUnknownTypes: true,
        maxMessageBytes: MAX_MESSAGE_BYTES,
        schemas: SCHEMAS,
        handlerTimeoutMs: HANDLER_TIMEOUT_MS,
        retry: { maxAttempts: MAX_ATTEMPTS, initialDelayMs: 5, maxDelayMs: 20 },
        // Redriving the transient HANDLER_TIMEOUT letters would add letters; ADR 0011 has its own tests.
        autoRedrive: false,
      },
      handler,
    );
    for (let i = 0; i < stream.length; i += 200) {
      await pipeline.transport.publish(
        stream.slice(i, i + 200).map((body, j) => ({
          messageId: `m-${i + j}`,
          source: 'customer-profile',
          type: 'customer.unsubscribed',
          key: 'any',
          body,
        })),
      );
    }

    await waitFor(
      'every healthy message applied and every bad one dead-lettered',
      async () =>
        (await pipeline.effects()).length >= healthy.length &&
        (await pipeline.consumerDb.inbox.listDeadLetters('billing')).length >= poisons.length,
      60_000,
    );
    // The consumer is still running: one more healthy message goes through.
    await pipeline.transport.publish([
      {
        messageId: 'last',
        source: 'customer-profile',
        type: 'customer.unsubscribed',
        key: 'customer-0',
        body: envelope({ subject: 'customer-0', sequence: HEALTHY_PER_KEY + 1 }),
      },
    ]);
    await waitFor('the last healthy message', async () => (await pipeline.effects()).length > healthy.length);

    const letters = await pipeline.consumerDb.inbox.listDeadLetters('billing');
    const byBody = new Map(poisons.map((poison) => [poison.body, poison]));
    // A lone surrogate may arrive as U+FFFD (the backend's text encoding): find those by their key.
    const byKey = new Map(poisons.map((poison) => [subjectOf(poison.body), poison]));
    expect(letters).toHaveLength(poisons.length);
    for (const letter of letters) {
      const poison = letter.bodyTruncated
        ? undefined
        : (byBody.get(letter.body) ??
          (letter.key?.startsWith('poison-') ? byKey.get(letter.key) : undefined));
      expect(
        poison,
        `dead letter ${letter.id} (${letter.reason}) is one of the injected poisons`,
      ).toBeDefined();
      expect({ kind: poison!.kind, reason: letter.reason }).toEqual({
        kind: poison!.kind,
        reason: poison!.reason,
      });
      if (poison!.attempts === undefined) expect(letter.attempts).toBeLessThanOrEqual(1);
      else expect(letter.attempts).toBe(poison!.attempts);
    }

    const effects = await pipeline.effects();
    expect(effects).toHaveLength(healthy.length + 1);
    expect(effects.every((e) => e.key.startsWith('customer-'))).toBe(true);
    const last = new Map<string, number>();
    for (const effect of effects) {
      expect(effect.sequence).toBe((last.get(effect.key) ?? 0) + 1);
      last.set(effect.key, effect.sequence);
    }
    expect((await pipeline.consumerDb.inbox.counts('billing')).parked).toBe(0);
    // Every write a timed-out handler tried afterwards was refused.
    release();
    const late = await Promise.allSettled(lateWrites);
    expect(late.length).toBeGreaterThanOrEqual(MAX_ATTEMPTS);
    for (const outcome of late)
      expect(outcome).toMatchObject({ status: 'rejected', reason: { code: 'TRANSACTION_CLOSED' } });
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect((Object.prototype as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('refuses to start with a payload schema that does not compile, naming the type', async () => {
    await expect(
      pipeline.subscribe({ schemas: { 'customer.unsubscribed': { type: 'nonsense' } } }),
    ).rejects.toMatchObject({
      code: 'CONFIG_INVALID',
      details: { field: 'schemas.customer.unsubscribed' },
      message: expect.stringContaining(
        "the schema for type 'customer.unsubscribed' is not a valid JSON Schema",
      ),
    });
  });
});
