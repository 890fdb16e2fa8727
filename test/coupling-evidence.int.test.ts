/**
 * What `converge ownership coupling` reads from each service's database, on each backend: the
 * messages its outbox committed (with their causation), the receipts its inbox recorded, and its
 * failures (dead letters and messages still retrying), all since a given time.
 */
import { describe, expect, it } from 'vitest';
import { RetryableError, TerminalError } from '../packages/core/src/index.js';
import { waitFor } from '../packages/core/src/testing/wait-for.js';
import { availableBackends } from './support/backends.js';
import { usePipeline } from './support/pipeline-fixture.js';

const backends = await availableBackends();

describe.each(backends)('coupling evidence on $name', (backend) => {
  const { pipeline, send } = usePipeline(backend);

  it('lists produced messages with causation, receipts of applied messages, dead letters and retries since a time', async () => {
    const before = new Date(Date.now() - 1000);
    const p = pipeline();
    await p.subscribe({ retry: { maxAttempts: 50, initialDelayMs: 10_000 } }, async (message, tx) => {
      if (message.subject === 'bad') throw new TerminalError('no such customer');
      if (message.subject === 'flaky') throw new RetryableError('gateway down');
      await p.recordEffect(tx, message);
    });
    const first = await send('c-1');
    const [caused] = await p.producer.transaction((tx) =>
      p.outbox.append(tx, [{ type: 'customer.unsubscribed', key: 'c-2', data: {}, causationId: first.id }]),
    );
    const bad = await send('bad');
    const flaky = await send('flaky');
    await p.startRelay();
    await waitFor('two effects, a dead letter and a retry', async () => {
      const failures = await p.consumerDb.evidence.failures(before, 100);
      return (await p.effects()).length === 2 && failures.length === 2;
    });

    const produced = await p.producer.evidence.produced(before, 100);
    expect(produced.map((m) => m.messageId).sort()).toEqual([first.id, caused!.id, bad.id, flaky.id].sort());
    expect(produced.find((m) => m.messageId === caused!.id)).toMatchObject({
      source: 'customer-profile',
      key: 'c-2',
      causationId: first.id,
    });
    expect(produced.every((m) => m.createdAt instanceof Date)).toBe(true);

    const receipts = await p.consumerDb.evidence.receipts(before, 100);
    const outcome = new Map(receipts.map((r) => [r.messageId, r.outcome]));
    expect(outcome.get(first.id)).toBe('applied');
    expect(outcome.get(caused!.id)).toBe('applied');
    // Under block-key a dead letter holds its key and gets no receipt until it is replayed.
    expect(outcome.get(bad.id)).toBeUndefined();
    expect(receipts.every((r) => r.consumer === 'billing' && r.source === 'customer-profile')).toBe(true);

    const failures = await p.consumerDb.evidence.failures(before, 100);
    expect(failures.map((f) => f.reason).sort()).toEqual(['HANDLER_TERMINAL_ERROR', 'RETRYING']);
    expect(failures.every((f) => f.source === 'customer-profile' && f.attempts >= 1)).toBe(true);

    // Nothing is older than the window: an empty answer from a later `since`.
    const later = new Date(Date.now() + 60_000);
    expect(await p.producer.evidence.produced(later, 100)).toEqual([]);
    expect(await p.consumerDb.evidence.receipts(later, 100)).toEqual([]);
    expect(await p.consumerDb.evidence.failures(later, 100)).toEqual([]);
    // The limit keeps the newest.
    expect(await p.producer.evidence.produced(before, 1)).toEqual([produced[0]]);
    expect(produced[0]!.messageId).toBe(flaky.id);
  });
});
