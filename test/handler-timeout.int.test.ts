/**
 * HANDLER_TIMEOUT: a handler call that takes longer than `handlerTimeoutMs` is a failed attempt.
 * Its writes are rolled back, the `tx` it holds refuses every later statement (so the abandoned
 * handler cannot write into the batch that goes on, or on SQLite into the next transaction), and
 * it is retried; when its last attempt timed out, the dead letter's reason is HANDLER_TIMEOUT.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import type { Envelope, Transaction } from '../packages/core/src/index.js';
import { waitFor } from '../packages/core/src/testing/wait-for.js';
import { availableBackends } from './support/backends.js';
import type { Pipeline } from './support/pipeline.js';
import { usePipeline } from './support/pipeline-fixture.js';

const backends = await availableBackends();
const TIMEOUT_MS = 100;

describe.each(backends)('handler timeout on $name', (backend) => {
  const fixture = usePipeline(backend);
  let pipeline: Pipeline;
  let release: () => void;
  let released: Promise<void>;
  beforeEach(() => {
    pipeline = fixture.pipeline();
    released = new Promise((resolve) => {
      release = resolve;
    });
  });
  const keys = async () => (await pipeline.effects()).map((e) => `${e.key}#${e.sequence}`);

  it('a handler that hangs is rolled back, fenced off and retried, then dead-lettered HANDLER_TIMEOUT; other keys flow', async () => {
    const lateWrites: Promise<void>[] = [];
    await pipeline.subscribe(
      {
        handlerTimeoutMs: TIMEOUT_MS,
        retry: { maxAttempts: 2, initialDelayMs: 5, maxDelayMs: 20 },
        // HANDLER_TIMEOUT is transient: once 'fast' succeeds, the redrive would replay 'slow'.
        autoRedrive: false,
      },
      async (message: Envelope, tx: Transaction) => {
        await pipeline.recordEffect(tx, message);
        if (message.subject !== 'slow') return;
        // Written before the hang, then again once the test lets it go: neither may stay.
        const late = released.then(() =>
          pipeline.recordEffect(tx, { ...message, id: `${message.id}-late-${lateWrites.length}` }),
        );
        lateWrites.push(late);
        await late;
      },
    );
    await pipeline.startRelay();
    await fixture.send('slow');
    await fixture.send('fast');
    await waitFor('the dead letter', async () => {
      return (await pipeline.consumerDb.inbox.listDeadLetters('billing')).length === 1;
    });
    const [letter] = await pipeline.consumerDb.inbox.listDeadLetters('billing');
    expect(letter).toMatchObject({
      reason: 'HANDLER_TIMEOUT',
      key: 'slow',
      attempts: 2,
      errorClass: 'HandlerTimeoutError',
      policy: 'block-key',
    });
    expect(letter!.errorMessage).toContain(`did not finish within ${TIMEOUT_MS} ms`);

    // The abandoned handlers now try to write, while the consumer goes on with the next message.
    release();
    await fixture.send('fast');
    const late = await Promise.allSettled(lateWrites);
    expect(late.length).toBeGreaterThanOrEqual(2);
    for (const outcome of late)
      expect(outcome).toMatchObject({ status: 'rejected', reason: { code: 'TRANSACTION_CLOSED' } });
    await waitFor('fast#2', async () => (await keys()).includes('fast#2'));
    expect(await keys()).toEqual(['fast#1', 'fast#2']);
  });

  it('a timeout is retryable: a handler that is slow once is applied once on its retry', async () => {
    let calls = 0;
    await pipeline.subscribe({ handlerTimeoutMs: TIMEOUT_MS }, async (message, tx) => {
      calls += 1;
      await pipeline.recordEffect(tx, message);
      if (calls === 1) await released;
    });
    await pipeline.startRelay();
    await fixture.send('a');
    await waitFor('a#1', async () => (await keys()).includes('a#1'));
    release();
    await fixture.send('a');
    await waitFor('a#2', async () => (await keys()).includes('a#2'));
    expect(await keys()).toEqual(['a#1', 'a#2']);
    expect(calls).toBeGreaterThanOrEqual(3);
    expect(await pipeline.consumerDb.inbox.listDeadLetters('billing')).toEqual([]);
  });

  it('refuses a handlerTimeoutMs that is not a whole number of milliseconds, naming the field', async () => {
    for (const handlerTimeoutMs of [0, -5, 1.5, Number.POSITIVE_INFINITY, 2 ** 31]) {
      await expect(pipeline.subscribe({ handlerTimeoutMs })).rejects.toMatchObject({
        code: 'CONFIG_INVALID',
        details: { field: 'handlerTimeoutMs' },
      });
    }
  });
});
