/**
 * A poison battery mixed into a healthy stream (about 1 bad message in 100), generated with
 * fast-check from a fixed seed: each bad message lands as a dead letter with the expected reason
 * after at most one attempt, the consumer keeps running, every healthy message is applied once in
 * per-key order, no healthy key is held back, and nothing pollutes a prototype.
 *
 * Bad messages carry keys of their own (`poison-…`), so the test can tell that the healthy keys
 * were never blocked. Kinds not covered yet (non-UTF-8 bytes on a binary transport, same id with
 * another payload) come with their reason codes in a later step.
 */
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { newMessageId } from '../packages/core/src/index.js';
import { waitFor } from '../packages/core/src/testing/wait-for.js';
import { availableBackends, type TestDatabases } from './support/backends.js';
import { createPipeline, type Pipeline } from './support/pipeline.js';

const backends = await availableBackends();
const SEED = 20261125;
const HEALTHY_KEYS = 50;
const HEALTHY_PER_KEY = 40; // 2,000 healthy messages
const MAX_MESSAGE_BYTES = 4096;

type Reason = 'MALFORMED' | 'MISSING_ATTRIBUTE' | 'UNKNOWN_TYPE' | 'OVERSIZED' | 'SCHEMA_INVALID';

/** The payload schema of the healthy type: `n`, when present, is an integer. */
const SCHEMAS = {
  'customer.unsubscribed': { type: 'object', properties: { n: { type: 'integer' } } },
};

interface Poison {
  readonly kind: string;
  readonly body: string;
  readonly reason: Reason;
}

const envelope = (fields: Record<string, unknown>) =>
  JSON.stringify({
    specversion: '1.0',
    id: newMessageId(),
    source: 'customer-profile',
    type: 'customer.unsubscribed',
    time: new Date().toISOString(),
    datacontenttype: 'application/json',
    sequence: 1,
    data: {},
    ...fields,
  });

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
  ];
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

  it('dead-letters every bad message with its reason after at most one attempt, and the healthy stream flows on', async () => {
    let serial = 0;
    const poisons = fc.sample(fc.oneof(...poisonKinds(() => ++serial)), { numRuns: 24, seed: SEED });
    // Every kind at least once, whatever the sample drew.
    for (const kind of poisonKinds(() => ++serial))
      poisons.push(...fc.sample(kind, { numRuns: 1, seed: SEED }));

    const healthy: string[] = [];
    for (let n = 1; n <= HEALTHY_PER_KEY; n += 1) {
      for (let k = 0; k < HEALTHY_KEYS; k += 1) {
        healthy.push(envelope({ subject: `customer-${k}`, sequence: n, data: { n } }));
      }
    }
    // About one bad message in a hundred, spread through the stream.
    const stream: string[] = [...healthy];
    poisons.forEach((poison, i) => {
      stream.splice(Math.floor(((i + 1) * stream.length) / (poisons.length + 1)), 0, poison.body);
    });

    await pipeline.subscribe({
      types: ['customer.unsubscribed'],
      rejectUnknownTypes: true,
      maxMessageBytes: MAX_MESSAGE_BYTES,
      schemas: SCHEMAS,
    });
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
    expect(letters).toHaveLength(poisons.length);
    for (const letter of letters) {
      const poison = letter.bodyTruncated ? undefined : byBody.get(letter.body);
      expect(
        poison,
        `dead letter ${letter.id} (${letter.reason}) is one of the injected poisons`,
      ).toBeDefined();
      expect({ kind: poison!.kind, reason: letter.reason }).toEqual({
        kind: poison!.kind,
        reason: poison!.reason,
      });
      expect(letter.attempts).toBeLessThanOrEqual(1);
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
