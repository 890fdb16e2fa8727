/**
 * Automatic redrive: after a dependency outage, messages that ran out of retries are replayed by
 * themselves once the consumer succeeds again: in per-key order, with no duplicate effect and no
 * manual action. Permanent failures are never redriven.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { TerminalError } from '../packages/core/src/index.js';
import { waitFor } from '../packages/core/src/testing/wait-for.js';
import { availableBackends } from './support/backends.js';
import type { Pipeline } from './support/pipeline.js';
import { usePipeline } from './support/pipeline-fixture.js';

const backends = await availableBackends();

describe.each(backends)('automatic redrive on $name', (backend) => {
  const fixture = usePipeline(backend);
  const send = (key: string) => fixture.send(key);
  let pipeline: Pipeline;
  let dependencyDown: boolean;
  beforeEach(() => {
    pipeline = fixture.pipeline();
    dependencyDown = true;
  });
  const letters = () => pipeline.consumerDb.inbox.listDeadLetters('billing');
  const byKey = async () => {
    const applied: Record<string, number[]> = {};
    for (const effect of await pipeline.effects()) {
      applied[effect.key] = [...(applied[effect.key] ?? []), effect.sequence];
    }
    return applied;
  };

  /** A handler whose dependency can be down (transient) and that never accepts key 'perm' (permanent). */
  const subscribe = (autoRedrive: { probeIntervalMs?: number } = {}) =>
    pipeline.subscribe(
      { retry: { maxAttempts: 2, initialDelayMs: 5, maxDelayMs: 10 }, autoRedrive },
      async (message, tx) => {
        if (message.subject === 'perm') throw new TerminalError('customer perm does not exist');
        if (dependencyDown && message.subject.startsWith('k-'))
          throw new Error('billing provider unreachable');
        await pipeline.recordEffect(tx, message);
      },
    );

  /** The outage: each k-* key's first message runs out of retries; its second waits behind it. */
  async function outage() {
    await pipeline.startRelay();
    for (const key of ['k-1', 'k-2', 'k-3', 'perm', 'k-1', 'k-2', 'k-3']) await send(key);
    await waitFor(
      'three transient dead letters and one permanent',
      async () => (await letters()).length >= 4,
    );
    await waitFor(
      'the second messages parked',
      async () => (await pipeline.consumerDb.inbox.counts('billing')).parked >= 3,
    );
    expect(await pipeline.effects()).toEqual([]);
  }

  async function expectRecovered() {
    const applied = await byKey();
    for (const key of ['k-1', 'k-2', 'k-3']) expect(applied[key]).toEqual([1, 2]);
    const all = await letters();
    // No transient dead letter is left open (a probe during the outage may have made a newer one
    // for the same message, also replayed since), and nobody but Converge acted: no manual action.
    const transient = all.filter((l) => l.reason === 'HANDLER_RETRIES_EXHAUSTED');
    expect(transient.length).toBeGreaterThanOrEqual(3);
    expect(new Set(transient.map((l) => l.key))).toEqual(new Set(['k-1', 'k-2', 'k-3']));
    expect(transient.every((l) => l.status === 'replayed')).toBe(true);
    for (const letter of transient) {
      const actors = (await pipeline.consumerDb.inbox.deadLetterAudit(letter.id)).map((entry) => entry.actor);
      expect(actors).toContain('converge:auto-redrive');
      expect(actors.every((actor) => actor === 'converge:billing' || actor === 'converge:auto-redrive')).toBe(
        true,
      );
    }
    const permanent = all.filter((l) => l.reason === 'HANDLER_TERMINAL_ERROR');
    expect(permanent.map((l) => [l.key, l.status])).toEqual([['perm', 'open']]);
    expect(await pipeline.consumerDb.inbox.deadLetterAudit(permanent[0]!.id)).toHaveLength(1);
    expect((await pipeline.consumerDb.inbox.counts('billing')).parked).toBe(0);
  }

  it('once a message succeeds again, replays the transient dead letters by themselves, in per-key order, once', async () => {
    await subscribe();
    await outage();
    dependencyDown = false;
    await send('fresh'); // the first success after the outage
    await waitFor('every k-* key caught up', async () => {
      const applied = await byKey();
      return ['k-1', 'k-2', 'k-3'].every((key) => applied[key]?.length === 2);
    });
    await expectRecovered();
    expect((await byKey()).fresh).toEqual([1]);
  });

  it('with nothing new arriving, probes one dead letter at a time and recovers all of them', async () => {
    await subscribe({ probeIntervalMs: 100 });
    await outage();
    dependencyDown = false;
    await waitFor('every k-* key caught up', async () => {
      const applied = await byKey();
      return ['k-1', 'k-2', 'k-3'].every((key) => applied[key]?.length === 2);
    });
    await expectRecovered();
  });

  it('does nothing by itself when turned off', async () => {
    await pipeline.subscribe(
      { retry: { maxAttempts: 2, initialDelayMs: 5, maxDelayMs: 10 }, autoRedrive: false },
      async (message, tx) => {
        if (dependencyDown && message.subject === 'k-1') throw new Error('billing provider unreachable');
        await pipeline.recordEffect(tx, message);
      },
    );
    await pipeline.startRelay();
    await send('k-1');
    await waitFor('dead letter', async () => (await letters()).length === 1);
    dependencyDown = false;
    await send('fresh');
    await waitFor('fresh applied', async () => (await byKey()).fresh !== undefined);
    // Several retry passes later, still waiting for a person.
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect((await letters()).map((l) => l.status)).toEqual(['open']);
    expect((await byKey())['k-1']).toBeUndefined();
  });
});
