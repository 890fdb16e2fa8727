/**
 * The relay's promises over real storage, on each backend: a transport outage costs a bounded
 * number of retries (backoff, not a hot loop) and loses nothing; new messages wake the relay where
 * the storage has notifications, and polling finds them where it does not; published rows are
 * pruned after the retention period and unpublished ones never are; `stop()` finishes the batch
 * in flight and leaves nothing running.
 *
 * No assertion here is about speed. Waits are bounded (`waitFor`, `within`) so a broken relay
 * fails instead of hanging; counts are bounded by the backoff schedule and the elapsed time.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  createRelay,
  type Envelope,
  type Outbox,
  type Relay,
  type RelayOptions,
  type Storage,
} from '../packages/core/src/index.js';
import { waitFor } from '../packages/core/src/testing/wait-for.js';
import { availableBackends, type Backend } from './support/backends.js';
import {
  createWarningLog,
  probeOutbox,
  type SwitchableTransport,
  sleep,
  within,
} from './support/relay-probes.js';
import { openRelayTestbed, type RelayTestbed } from './support/relay-testbed.js';

const backends = await availableBackends();

/** Longest any single wait in this file may take before the test fails; far below any default. */
const BOUND_MS = 10_000;

/** A poll interval no test can sit out: a message that arrives must have been signalled. */
const TEN_MINUTES_MS = 600_000;

/**
 * The most publish attempts a relay with this backoff can make in `elapsedMs`, the first attempt
 * included. Equal jitter never waits less than half the ceiling (`backoffDelayMs`); 1 ms is taken
 * off each delay for timer granularity, and one attempt is added for the one in flight.
 */
function mostAttemptsWithin(elapsedMs: number, initialBackoffMs: number, maxBackoffMs: number): number {
  let attempts = 1;
  let waited = 0;
  for (let failures = 1; failures < 10_000; failures++) {
    const ceiling = Math.min(maxBackoffMs, initialBackoffMs * 2 ** (failures - 1));
    waited += Math.max(0, Math.round(ceiling / 2) - 1);
    if (waited > elapsedMs) break;
    attempts += 1;
  }
  return attempts + 1;
}

function outboxTable(backend: Backend): string {
  return backend.name === 'postgres' ? 'converge.outbox' : 'converge_outbox';
}

describe.each(backends)('relay on $name', (backend) => {
  let bed: RelayTestbed;
  let storage: Storage;
  let outbox: Outbox;
  let transport: SwitchableTransport;

  beforeEach(async () => {
    bed = await openRelayTestbed(backend);
    ({ storage, outbox, transport } = bed);
  });
  afterEach(() => bed.cleanup());

  const startRelay = (options: Partial<RelayOptions> = {}): Promise<Relay> => bed.startRelay(options);
  const append = (...keys: string[]): Promise<Envelope[]> => bed.append(...keys);

  const ids = (messages: readonly Envelope[]) => messages.map((m) => m.id).sort();

  /** The outbox table as it is: which messages are still there, and whether each is published. */
  async function outboxRows(): Promise<{ messageId: string; published: boolean }[]> {
    const rows = await storage.transaction((tx) =>
      tx.query<{ message_id: string; published_at: unknown }>(
        `SELECT message_id, published_at FROM ${outboxTable(backend)} ORDER BY position`,
      ),
    );
    return rows.map((r) => ({ messageId: String(r.message_id), published: r.published_at !== null }));
  }

  it('backs off while the transport is down instead of retrying in a hot loop, and publishes everything once it is back', async () => {
    const initialBackoffMs = 20;
    const maxBackoffMs = 200;
    transport.down = true;
    const sent = await append('c-1', 'c-2', 'c-3');
    const log = createWarningLog();
    const startedAt = Date.now();
    const relay = await startRelay({
      pollIntervalMs: 10,
      initialBackoffMs,
      maxBackoffMs,
      logger: log.logger,
    });
    // Keep appending during the outage: where commits notify the relay, that must not cut a
    // backoff short either.
    for (let i = 0; i < 20; i++) {
      sent.push(...(await append(`d-${i}`)));
      await sleep(75);
    }
    const attempts = transport.attempts;
    const elapsedMs = Date.now() - startedAt;
    const warnings = [...log.warnings];

    // A hot loop would have made hundreds of attempts in this window; backoff allows a handful.
    expect(attempts).toBeGreaterThanOrEqual(2);
    expect(attempts).toBeLessThanOrEqual(mostAttemptsWithin(elapsedMs, initialBackoffMs, maxBackoffMs));
    expect(attempts).toBeLessThanOrEqual(30);
    expect(relay.consecutiveFailures).toBeGreaterThanOrEqual(2);
    // Each failure is logged with its number and a delay inside the equal-jitter range.
    expect(warnings.length).toBeGreaterThanOrEqual(2);
    warnings.forEach(({ fields, message }, index) => {
      const failures = index + 1;
      const ceiling = Math.min(maxBackoffMs, initialBackoffMs * 2 ** (failures - 1));
      expect(fields).toMatchObject({ relayId: relay.relayId, failures });
      expect(fields.delayMs).toBeGreaterThanOrEqual(ceiling / 2);
      expect(fields.delayMs).toBeLessThanOrEqual(ceiling);
      expect(message).toContain(`failure ${failures}`);
    });
    // Nothing is marked published that the transport did not accept.
    expect(transport.accepted).toEqual([]);
    expect(await storage.outbox.status()).toMatchObject({ backlog: sent.length, publishedRetained: 0 });
    expect((await outboxRows()).filter((row) => row.published)).toEqual([]);

    transport.down = false;
    await waitFor(
      'every message published and marked',
      async () => (await storage.outbox.status()).backlog === 0,
      BOUND_MS,
    );
    expect([...transport.accepted].sort()).toEqual(ids(sent));
    expect(relay.consecutiveFailures).toBe(0);
    expect(await storage.outbox.status()).toMatchObject({ backlog: 0, publishedRetained: sent.length });
  });

  // PostgreSQL is the backend with notifications; the assertion below keeps the flag honest, so
  // this test cannot quietly turn into a polling test.
  it.runIf(backend.name === 'postgres')(
    'wakes on LISTEN/NOTIFY without waiting for the poll interval, and only once the transaction commits',
    async () => {
      expect(storage.capabilities.notifications).toBe(true);
      const probe = probeOutbox(storage);
      await startRelay({ storage: probe.storage, pollIntervalMs: TEN_MINUTES_MS });
      await waitFor('the relay to find the outbox empty and wait', () => probe.emptyClaims >= 1, BOUND_MS);

      // An open transaction's append signals nothing yet: the relay stays asleep.
      let releaseCommit!: () => void;
      const commitGate = new Promise<void>((resolve) => {
        releaseCommit = resolve;
      });
      const appended = storage.transaction(async (tx) => {
        const messages = await outbox.append(tx, [{ type: 'customer.unsubscribed', key: 'c-0', data: {} }]);
        await commitGate;
        return messages;
      });
      await sleep(200);
      expect(probe.claims).toBe(1);
      releaseCommit();
      const sent = [...(await appended)];
      await waitFor(
        'the message of the committed transaction',
        () => transport.accepted.includes(sent[0]!.id),
        BOUND_MS,
      );

      for (let round = 1; round <= 3; round++) {
        const [message] = await append(`c-${round}`);
        sent.push(message!);
        await waitFor(`message ${round} published`, () => transport.accepted.includes(message!.id), BOUND_MS);
      }
      // Each wake-up is a notification, not a poll: a claim per commit, at most one spare each
      // (a notification that arrives while a claim is running makes the next wait return at once).
      const claims = probe.claims;
      expect(claims).toBeLessThanOrEqual(1 + 2 * sent.length);
      await sleep(200);
      expect(probe.claims).toBe(claims);
      expect([...transport.accepted].sort()).toEqual(ids(sent));
    },
  );

  it('without notifications, finds new messages by polling', async () => {
    const probe = probeOutbox(storage, { notifications: false });
    await startRelay({ storage: probe.storage, pollIntervalMs: 20 });
    await waitFor('the relay to poll an empty outbox repeatedly', () => probe.emptyClaims >= 3, BOUND_MS);
    const sent = await append('c-1', 'c-2');
    await waitFor('both messages published', () => transport.accepted.length >= 2, BOUND_MS);
    expect([...transport.accepted].sort()).toEqual(ids(sent));
  });

  it('keeps published rows while they are younger than the retention period', async () => {
    const retentionMs = 3_600_000;
    const probe = probeOutbox(storage);
    await startRelay({ storage: probe.storage, pollIntervalMs: 10, pruneIntervalMs: 20, retentionMs });
    const sent = await append('c-1', 'c-2', 'c-3');
    await waitFor('messages published', async () => (await storage.outbox.status()).backlog === 0, BOUND_MS);
    const prunesBefore = probe.prunes.length;
    await waitFor('three more prune runs', () => probe.prunes.length >= prunesBefore + 3, BOUND_MS);

    expect(probe.prunes.every((call) => call.pruned === 0)).toBe(true);
    // The cut-off is always at least the retention period in the past.
    for (const call of probe.prunes)
      expect(call.calledAt - call.before.getTime()).toBeGreaterThanOrEqual(retentionMs);
    expect(await outboxRows()).toEqual(sent.map((m) => ({ messageId: m.id, published: true })));
  });

  it('prunes published rows after the retention period and never unpublished ones', async () => {
    const retentionMs = 200;
    // A first relay publishes A, then claims B and hangs there (its claim is held below): B stays
    // unpublished, and old, while a second relay runs its prune.
    const first = createRelay({ storage, transport, relayId: 'relay-hung' });
    const published = await append('a-1', 'a-2', 'a-3');
    expect(await first.publishOnce()).toBe(3);
    const unpublished = await append('b-1', 'b-2');
    const held = await storage.outbox.claim({ relayId: first.relayId, limit: 100, leaseMs: 60_000 });
    expect(held?.rows.map((row) => row.envelope.id).sort()).toEqual(ids(unpublished));
    try {
      // Both A's publication and B's append are now older than the retention period.
      await sleep(retentionMs + 100);
      const probe = probeOutbox(storage);
      await startRelay({ storage: probe.storage, pollIntervalMs: 10, pruneIntervalMs: 50, retentionMs });
      await waitFor(
        'a prune that deletes rows',
        () => probe.prunes.some((call) => call.pruned > 0),
        BOUND_MS,
      );
      // Give further prune runs the chance to (wrongly) delete more.
      const prunesSoFar = probe.prunes.length;
      await waitFor('two more prune runs', () => probe.prunes.length >= prunesSoFar + 2, BOUND_MS);

      expect(probe.prunes.reduce((sum, call) => sum + call.pruned, 0)).toBe(published.length);
      expect(await outboxRows()).toEqual(unpublished.map((m) => ({ messageId: m.id, published: false })));
      expect(await storage.outbox.status()).toMatchObject({
        backlog: unpublished.length,
        publishedRetained: 0,
      });
      expect([...transport.accepted].sort()).toEqual(ids(published));
    } finally {
      await held?.release();
    }
  });

  it('a relay that is stopped finishes its batch, marks it, and makes no further attempts; it can start again', async () => {
    const probe = probeOutbox(storage);
    const sent = await append('c-1', 'c-2', 'c-3');
    const gate = transport.hold();
    const relay = await startRelay({ storage: probe.storage, pollIntervalMs: 10 });
    await within('the relay to start publishing', BOUND_MS, gate.entered);

    let stopped = false;
    const stopping = relay.stop().then(() => {
      stopped = true;
    });
    await sleep(50);
    expect(stopped).toBe(false); // the batch is still in the transport's hands
    gate.release();
    await within('relay.stop()', BOUND_MS, stopping);

    expect([...transport.accepted].sort()).toEqual(ids(sent));
    expect(await storage.outbox.status()).toMatchObject({ backlog: 0, publishedRetained: 3 });
    const attempts = transport.attempts;
    const claims = probe.claims;
    const later = await append('c-4');
    await sleep(200);
    expect(transport.attempts).toBe(attempts);
    expect(probe.claims).toBe(claims);
    expect((await storage.outbox.status()).backlog).toBe(1);

    await relay.start();
    await waitFor(
      'the message appended while stopped',
      () => transport.accepted.includes(later[0]!.id),
      BOUND_MS,
    );
  });

  it('stop() ends a long poll wait and a long backoff without sitting them out', async () => {
    const probe = probeOutbox(storage);
    // One relayId for both relays: on SQLite a stopped relay keeps the outbox lease until it
    // expires (`leaseMs`), so a relay under another id would claim nothing for that long.
    const relayId = 'relay-1';
    const idle = await startRelay({ storage: probe.storage, relayId, pollIntervalMs: TEN_MINUTES_MS });
    await waitFor('the relay to wait for work', () => probe.emptyClaims >= 1, BOUND_MS);
    await within('stop() during a ten-minute poll wait', BOUND_MS, idle.stop());

    transport.down = true;
    await append('c-1');
    const log = createWarningLog();
    const backingOff = await startRelay({
      storage: probe.storage,
      relayId,
      pollIntervalMs: 10,
      initialBackoffMs: TEN_MINUTES_MS,
      maxBackoffMs: TEN_MINUTES_MS,
      logger: log.logger,
    });
    await waitFor('the relay to back off', () => log.warnings.length >= 1, BOUND_MS);
    expect(backingOff.consecutiveFailures).toBe(1);
    await within('stop() during a ten-minute backoff', BOUND_MS, backingOff.stop());

    const attempts = transport.attempts;
    const claims = probe.claims;
    await sleep(200);
    expect(transport.attempts).toBe(attempts);
    expect(probe.claims).toBe(claims);
    expect(transport.accepted).toEqual([]);
  });
});
