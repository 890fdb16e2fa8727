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
 * Invariant: a row is marked published only after the transport accepted it. A relay killed
 * anywhere loses nothing: an unmarked row is claimed again (by this relay after a restart, or by
 * another), and is at worst published twice; consumers deduplicate by message id and sequence.
 */
import { describeError } from '../core/errors.js';
import { newMessageId } from '../core/ids.js';
import { backoffDelayMs } from '../core/retry-policy.js';
import { Waker } from '../core/waker.js';
import { type FaultInjector, FaultPoint, noFaults } from '../ports/fault-points.js';
import { type Logger, silentLogger } from '../ports/logger.js';
import { OUTBOX_CHANNEL, type Storage } from '../ports/storage.js';
import type { Transport } from '../ports/transport.js';

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

  async function run(): Promise<void> {
    while (running) {
      try {
        const published = await publishOnce();
        if (failures > 0) config.logger.info({ relayId: config.relayId, failures }, 'relay recovered');
        failures = 0;
        await pruneIfDue();
        if (published < config.batchSize && running) await waker.wait(config.pollIntervalMs);
      } catch (error) {
        failures += 1;
        const delayMs = backoffDelayMs(config.backoff, failures);
        config.logger.warn(
          { relayId: config.relayId, failures, delayMs, error: describeError(error) },
          `relay ${config.relayId} failed to publish (failure ${failures}); retrying in ${delayMs} ms`,
        );
        if (running) await backoff.wait(delayMs);
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
        await storage.outbox.releaseRelay(config.relayId).catch((error: unknown) => {
          config.logger.warn({ error: describeError(error) }, 'relay could not give up its lease on stop');
        });
      }
    },
  };
}
