/**
 * The relay's heartbeat over real storage, on each backend: a running relay's row appears and
 * counts what it published, a clean stop marks it stopped, a relay that stops reporting turns
 * silent, a failing relay reports its failures with the error masked, a relay backing off still
 * reports in, heartbeats are written once per interval and never per message, a heartbeat that
 * cannot be written never stops publishing, and old rows of other relays are pruned.
 *
 * No assertion here is about speed: waits are bounded (`waitFor`) so a broken relay fails instead
 * of hanging.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  type Envelope,
  type Relay,
  type RelayOptions,
  type RelayRecord,
  RelayState,
  relayState,
  type Storage,
} from '../packages/core/src/index.js';
import { relayHeartbeat } from '../packages/core/src/testing/relay-heartbeat-fixture.js';
import { waitFor } from '../packages/core/src/testing/wait-for.js';
import { ageRows } from './support/age-rows.js';
import { availableBackends } from './support/backends.js';
import {
  createSwitchableTransport,
  createWarningLog,
  probeOutbox,
  type SwitchableTransport,
} from './support/relay-probes.js';
import { openRelayTestbed, type RelayTestbed } from './support/relay-testbed.js';

const backends = await availableBackends();
/** Longest any single wait in this file may take before the test fails. */
const BOUND_MS = 10_000;
const DAY_MS = 24 * 3600_000;

describe.each(backends)('relay heartbeat on $name', (backend) => {
  let bed: RelayTestbed;
  let storage: Storage;
  let transport: SwitchableTransport;

  beforeEach(async () => {
    bed = await openRelayTestbed(backend, { pollIntervalMs: 10 });
    ({ storage, transport } = bed);
  });
  afterEach(() => bed.cleanup());

  const startRelay = (options: Partial<RelayOptions> = {}): Promise<Relay> => bed.startRelay(options);
  const append = (...keys: string[]): Promise<Envelope[]> => bed.append(...keys);
  /** Moves a relay's last heartbeat `ms` into the past, as if it had gone quiet then. */
  const ageHeartbeat = (relayId: string, ms: number) =>
    ageRows(backend, storage, { table: 'relay', column: 'heartbeat_at', ms, relayId });

  async function record(relayId: string): Promise<{ relay: RelayRecord | undefined; state: string | null }> {
    const list = await storage.outbox.listRelays();
    const relay = list.relays.find((r) => r.relayId === relayId);
    return { relay, state: relay === undefined ? null : relayState(relay, list.observedAt) };
  }

  it('a started relay is running with its host, pid and published count; a stopped one is stopped', async () => {
    const relay = await startRelay({ heartbeatIntervalMs: 20 });
    // start() resolves only once the first heartbeat is written.
    expect((await record(relay.relayId)).relay).toMatchObject({
      pid: process.pid,
      published: 0,
      heartbeatIntervalMs: 20,
      stoppedAt: null,
    });
    const sent = await append('c-1', 'c-2', 'c-3');
    await waitFor(
      'a heartbeat counting the three messages',
      async () => (await record(relay.relayId)).relay?.published === sent.length,
      BOUND_MS,
    );
    const running = await record(relay.relayId);
    expect(running.state).toBe(RelayState.running);
    expect(running.relay?.host).toEqual(expect.any(String));
    expect(running.relay?.lastPublishedAt).toBeInstanceOf(Date);

    await relay.stop();
    const stopped = await record(relay.relayId);
    expect(stopped.state).toBe(RelayState.stopped);
    expect(stopped.relay?.published).toBe(sent.length);
  });

  it('a relay whose heartbeat is older than three intervals is silent', async () => {
    // An interval no test sits out: the relay writes no heartbeat of its own meanwhile.
    const intervalMs = 600_000;
    await startRelay({ relayId: 'relay-hung', heartbeatIntervalMs: intervalMs });
    await ageHeartbeat('relay-hung', 3 * intervalMs - 60_000);
    expect((await record('relay-hung')).state).toBe(RelayState.running);
    await ageHeartbeat('relay-hung', 120_000);
    expect((await record('relay-hung')).state).toBe(RelayState.silent);
  });

  it('a failing relay reports its consecutive failures and its last error, masked and short', async () => {
    const failing = createSwitchableTransport();
    const relay = await startRelay({
      transport: {
        ...failing,
        publish: async () => {
          throw new Error(`broker postgres://app:s3cret@broker:5432/x refused: ${'x'.repeat(500)}`);
        },
      },
      heartbeatIntervalMs: 10,
      initialBackoffMs: 5,
      maxBackoffMs: 20,
    });
    await append('c-1');
    await waitFor(
      'a heartbeat with two failures',
      async () => ((await record(relay.relayId)).relay?.consecutiveFailures ?? 0) >= 2,
      BOUND_MS,
    );
    const { relay: row } = await record(relay.relayId);
    expect(row?.lastError).toMatch(/^Error: broker postgres:\/\/app:\*\*\*@broker:5432\/x refused: x+…$/);
    expect(row?.lastError?.length).toBeLessThanOrEqual(200);
    expect(row?.lastErrorAt).toBeInstanceOf(Date);
    expect(row?.published).toBe(0);
  });

  it('keeps reporting in during a backoff longer than the heartbeat interval, without extra attempts', async () => {
    transport.down = true;
    await append('c-1');
    const probe = probeOutbox(storage);
    await startRelay({
      storage: probe.storage,
      heartbeatIntervalMs: 20,
      initialBackoffMs: 60_000,
      maxBackoffMs: 60_000,
    });
    await waitFor('five heartbeats', () => probe.heartbeats.length >= 5, BOUND_MS);
    // Equal jitter waits at least 30 s before the second attempt: every heartbeat came from the backoff.
    expect(transport.attempts).toBe(1);
    expect(probe.claims).toBe(1);
    expect(probe.heartbeats.at(-1)).toMatchObject({ consecutiveFailures: 1, stopped: false });
  });

  it('writes one heartbeat per interval, never one per message or batch', async () => {
    const probe = probeOutbox(storage);
    const sent = await append(...Array.from({ length: 40 }, (_, i) => `c-${i}`));
    const relay = await startRelay({ storage: probe.storage, heartbeatIntervalMs: 600_000, batchSize: 4 });
    await waitFor('every message published', () => transport.accepted.length >= sent.length, BOUND_MS);
    expect(probe.claims).toBeGreaterThanOrEqual(10);
    expect(probe.heartbeats).toHaveLength(1);
    await relay.stop();
    expect(probe.heartbeats.map((h) => [h.stopped, h.published])).toEqual([
      [false, 0],
      [true, sent.length],
    ]);
  });

  it('a heartbeat that cannot be written is logged and never stops publishing', async () => {
    const probe = probeOutbox(storage, { failHeartbeats: true });
    const log = createWarningLog();
    await startRelay({ storage: probe.storage, heartbeatIntervalMs: 10, logger: log.logger });
    const sent = await append('c-1', 'c-2');
    await waitFor('both messages published', () => transport.accepted.length >= sent.length, BOUND_MS);
    await waitFor('a few refused heartbeats', () => probe.heartbeats.length >= 3, BOUND_MS);
    expect((await storage.outbox.status()).backlog).toBe(0);
    expect(log.warnings[0]?.message).toContain('could not write its heartbeat');
    expect((await storage.outbox.listRelays()).relays).toEqual([]);
  });

  it('prunes the rows of relays silent or stopped for longer than the retention, never a recent one', async () => {
    for (const [relayId, stopped] of [
      ['relay-gone', false],
      ['relay-stopped-long-ago', true],
      ['relay-recent', false],
    ] as const) {
      await storage.outbox.recordHeartbeat(
        relayHeartbeat(relayId, { startedAt: new Date(Date.now() - 30 * DAY_MS), stopped }),
      );
    }
    await ageHeartbeat('relay-gone', 8 * DAY_MS);
    await ageHeartbeat('relay-stopped-long-ago', 8 * DAY_MS);
    await ageHeartbeat('relay-recent', 6 * DAY_MS);
    const relay = await startRelay({ heartbeatIntervalMs: 10, pruneIntervalMs: 10 });
    await waitFor(
      'the old rows pruned',
      async () => (await storage.outbox.listRelays()).relays.length === 2,
      BOUND_MS,
    );
    expect((await storage.outbox.listRelays()).relays.map((r) => r.relayId).sort()).toEqual(
      [relay.relayId, 'relay-recent'].sort(),
    );
  });
});
