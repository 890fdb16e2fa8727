/**
 * The relay: moves committed outbox messages to the transport.
 *
 * States, in prose. A started relay loops: it *claims* a batch of unpublished committed rows,
 * *publishes* them, then *marks* them published. When a claim comes back empty it *waits* for a
 * notification from the outbox (where the storage has them) or for `pollIntervalMs`, whichever
 * comes first. When publishing or marking fails it releases the claim and *backs off*: the delay
 * grows exponentially with equal jitter up to `maxBackoffMs`, so a transport outage never becomes
 * a hot loop; the first success resets it. Every `pruneIntervalMs` it deletes rows published more
 * than `retentionMs` ago. `stop()` lets the batch in flight finish and resolves.
 *
 * Heartbeat: the relay writes a row about itself (`converge outbox status` reads it) when it
 * starts, at most once per `heartbeatIntervalMs` while it runs, and when it stops (see
 * `HeartbeatWriter`). Its waits, a long poll or a long backoff alike, are cut into slices no
 * longer than the time to the next heartbeat, so a relay backing off for 30 s still reports in
 * every interval; a slice that runs out does not count as a wake-up, so heartbeats never shorten
 * a backoff or add claims. A heartbeat that cannot be written is logged and never stops publishing.
 *
 * Invariant: a row is marked published only after the transport accepted it. A relay killed
 * anywhere loses nothing: an unmarked row is claimed again (by this relay after a restart, or by
 * another), and is at worst published twice; consumers deduplicate by message id and sequence.
 */
import { hostname } from 'node:os';
import { describeError } from '../core/errors.js';
import { newMessageId } from '../core/ids.js';
import { backoffDelayMs } from '../core/retry-policy.js';
import { Waker } from '../core/waker.js';
import { type FaultInjector, FaultPoint, noFaults } from '../ports/fault-points.js';
import { type Logger, silentLogger } from '../ports/logger.js';
import { OUTBOX_CHANNEL, type Storage } from '../ports/storage.js';
import type { Transport } from '../ports/transport.js';
import { HeartbeatWriter } from './heartbeat-writer.js';

export interface RelayOptions {
  readonly storage: Storage;
  readonly transport: Transport;
  /** Default: a new UUIDv7 per relay. */
  readonly relayId?: string;
  /** Rows per claim. Default 200. */
  readonly batchSize?: number;
  /** Longest wait for new rows without a notification. Default 500 ms. */
  readonly pollIntervalMs?: number;
  /** How long a claim stays exclusive without being marked. Default 30000 ms. */
  readonly leaseMs?: number;
  /** First backoff ceiling after a failure. Default 100 ms. */
  readonly initialBackoffMs?: number;
  /** Largest backoff ceiling. Default 30000 ms. */
  readonly maxBackoffMs?: number;
  /** How long published rows are kept. Default 7 days. */
  readonly retentionMs?: number;
  /** How often pruning runs. Default 60000 ms. */
  readonly pruneIntervalMs?: number;
  /** How often the relay writes its heartbeat row. Default 5000 ms. */
  readonly heartbeatIntervalMs?: number;
  /** Heartbeat rows of relays silent or stopped for longer are pruned. Default 7 days. */
  readonly heartbeatRetentionMs?: number;
  readonly logger?: Logger;
  /** Test hook: see `FaultPoint`. */
  readonly faults?: FaultInjector;
}

export interface Relay {
  readonly relayId: string;
  /** Starts the loop (idempotent). */
  start(): Promise<void>;
  /** Finishes the batch in flight and stops. */
  stop(): Promise<void>;
  /** Claims, publishes and marks one batch; returns how many messages it published. */
  publishOnce(): Promise<number>;
  /** Consecutive failures so far (0 when healthy). */
  readonly consecutiveFailures: number;
}

const PRUNE_CHUNK = 10_000;
const PRUNE_MAX_CHUNKS = 100;

/** Creates a relay. Any number may run against one outbox. */
export function createRelay(options: RelayOptions): Relay {
  const config = Object.freeze({
    relayId: options.relayId ?? `relay-${newMessageId()}`,
    batchSize: options.batchSize ?? 200,
    pollIntervalMs: options.pollIntervalMs ?? 500,
    leaseMs: options.leaseMs ?? 30_000,
    backoff: {
      maxAttempts: Number.POSITIVE_INFINITY,
      initialDelayMs: options.initialBackoffMs ?? 100,
      maxDelayMs: options.maxBackoffMs ?? 30_000,
      multiplier: 2,
    },
    retentionMs: options.retentionMs ?? 7 * 24 * 3600_000,
    pruneIntervalMs: options.pruneIntervalMs ?? 60_000,
    heartbeatIntervalMs: Math.max(1, options.heartbeatIntervalMs ?? 5_000),
    heartbeatRetentionMs: options.heartbeatRetentionMs ?? 7 * 24 * 3600_000,
    logger: options.logger ?? silentLogger,
    faults: options.faults ?? noFaults,
  });
  const { storage, transport } = options;
  // New rows wake `waker`; only stop() wakes `backoff`, so a busy outbox cannot shorten a backoff.
  const waker = new Waker();
  const backoff = new Waker();
  let running = false;
  let loop: Promise<void> | null = null;
  let unlisten: (() => Promise<void>) | null = null;
  let failures = 0;
  let lastPruneAt = 0;
  const heartbeat = new HeartbeatWriter(storage.outbox, {
    relayId: config.relayId,
    host: hostname(),
    pid: process.pid,
    heartbeatIntervalMs: config.heartbeatIntervalMs,
    retentionMs: config.heartbeatRetentionMs,
    pruneIntervalMs: config.pruneIntervalMs,
    logger: config.logger,
  });

  async function publishOnce(): Promise<number> {
    const claim = await storage.outbox.claim({
      relayId: config.relayId,
      limit: config.batchSize,
      leaseMs: config.leaseMs,
    });
    if (claim === null) return 0;
    try {
      await transport.publish(
        claim.rows.map(({ envelope, body }) => ({
          messageId: envelope.id,
          source: envelope.source,
          type: envelope.type,
          key: envelope.subject,
          body,
        })),
      );
    } catch (error) {
      await claim.release().catch(() => undefined);
      throw error;
    }
    config.faults.reach(FaultPoint.AFTER_PUBLISH_BEFORE_MARK);
    await claim.markPublished();
    return claim.rows.length;
  }

  async function pruneIfDue(): Promise<void> {
    if (Date.now() - lastPruneAt < config.pruneIntervalMs) return;
    lastPruneAt = Date.now();
    const before = new Date(Date.now() - config.retentionMs);
    // In chunks, so no single statement holds locks for long; bounded, so a pass always ends.
    let pruned = 0;
    for (let chunk = 0; chunk < PRUNE_MAX_CHUNKS; chunk += 1) {
      const deleted = await storage.outbox.prunePublished(before, PRUNE_CHUNK);
      pruned += deleted;
      if (deleted < PRUNE_CHUNK || !running) break;
    }
    if (pruned > 0) config.logger.debug({ relayId: config.relayId, pruned }, 'pruned published outbox rows');
  }

  /** Waits up to `ms` on `waiter` (or until it is woken), writing the heartbeats due meanwhile. */
  async function idle(waiter: Waker, ms: number): Promise<void> {
    const until = Date.now() + ms;
    while (running) {
      await heartbeat.beatIfDue();
      const leftMs = until - Date.now();
      if (leftMs <= 0 || !running) return;
      if (await waiter.wait(Math.min(leftMs, heartbeat.msUntilDue()))) return;
    }
  }

  async function run(): Promise<void> {
    while (running) {
      await heartbeat.beatIfDue();
      try {
        const published = await publishOnce();
        heartbeat.recordPublished(published);
        if (failures > 0) config.logger.info({ relayId: config.relayId, failures }, 'relay recovered');
        failures = 0;
        await pruneIfDue();
        if (published < config.batchSize && running) await idle(waker, config.pollIntervalMs);
      } catch (error) {
        failures += 1;
        heartbeat.recordFailure(error, failures);
        const delayMs = backoffDelayMs(config.backoff, failures);
        config.logger.warn(
          { relayId: config.relayId, failures, delayMs, error: describeError(error) },
          `relay ${config.relayId} failed to publish (failure ${failures}); retrying in ${delayMs} ms`,
        );
        if (running) await idle(backoff, delayMs);
      }
    }
  }

  return {
    get relayId() {
      return config.relayId;
    },
    get consecutiveFailures() {
      return failures;
    },
    publishOnce,
    async start(): Promise<void> {
      if (running) return;
      // Refuse to run against a schema this build does not know (SCHEMA_TOO_NEW / SCHEMA_OUT_OF_DATE).
      await storage.assertSchemaCurrent();
      running = true;
      heartbeat.restart();
      if (storage.capabilities.notifications && storage.listen) {
        unlisten = await storage
          .listen(OUTBOX_CHANNEL, () => waker.wake())
          .catch((error: unknown) => {
            config.logger.warn(
              { error: describeError(error) },
              'relay cannot listen for outbox notifications; polling',
            );
            return null;
          });
        if (!running) {
          // stop() ran while we were subscribing: it could not close what did not exist yet.
          await unlisten?.();
          unlisten = null;
          return;
        }
      }
      await heartbeat.beat(false);
      if (!running) {
        // stop() ran during that first heartbeat, before there was a loop to wait for.
        await heartbeat.beat(true);
        return;
      }
      loop = run();
    },
    async stop(): Promise<void> {
      running = false;
      waker.wake();
      backoff.wake();
      const wasRunning = loop !== null;
      await loop;
      loop = null;
      await unlisten?.();
      unlisten = null;
      if (wasRunning) {
        await heartbeat.beat(true);
        await storage.outbox.releaseRelay(config.relayId).catch((error: unknown) => {
          config.logger.warn({ error: describeError(error) }, 'relay could not give up its lease on stop');
        });
      }
    },
  };
}
