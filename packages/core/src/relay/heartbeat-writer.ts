/**
 * A relay's heartbeat: what it tells the outbox's database about itself (`converge outbox
 * status` reads it). The relay reports each batch and failure here, in memory; `beatIfDue()`
 * writes one row at most once per `heartbeatIntervalMs`, never once per message, and now and then
 * prunes the rows of relays silent or stopped for longer than `retentionMs`.
 *
 * Invariant: nothing here throws. A heartbeat that cannot be written is logged and tried again
 * one interval later; publishing never waits on a failed heartbeat or stops because of one.
 */
import { maskSecrets } from '../core/database-url.js';
import { describeError } from '../core/errors.js';
import type { Logger } from '../ports/logger.js';
import type { OutboxStore } from '../ports/outbox-store.js';

/** Longest error text a heartbeat keeps. */
const MAX_ERROR_LENGTH = 200;

/** Who the relay is, and how often it reports and prunes (`createRelay` resolves them). */
export interface HeartbeatWriterOptions {
  readonly relayId: string;
  readonly host: string | null;
  readonly pid: number | null;
  readonly heartbeatIntervalMs: number;
  /** Rows of relays silent (or stopped) for longer are deleted. */
  readonly retentionMs: number;
  /** How often that pruning runs. */
  readonly pruneIntervalMs: number;
  readonly logger: Logger;
}

/** `error` as one short line without secrets: `Error: connect ECONNREFUSED postgres://app:***@…`. */
export function shortErrorText(error: unknown): string {
  const { errorClass, message } = describeError(error);
  const line = maskSecrets(`${errorClass}: ${message}`).replace(/\s+/g, ' ').trim();
  return line.length > MAX_ERROR_LENGTH ? `${line.slice(0, MAX_ERROR_LENGTH - 1)}…` : line;
}

/** Keeps a relay's figures and writes them as its heartbeat (see the top of this file). */
export class HeartbeatWriter {
  readonly #store: OutboxStore;
  readonly #options: HeartbeatWriterOptions;
  #startedAt = new Date();
  #published = 0;
  #lastPublishedAt: Date | null = null;
  #failures = 0;
  #lastError: string | null = null;
  #lastErrorAt: Date | null = null;
  #lastBeatAt = Number.NEGATIVE_INFINITY;
  #lastPruneAt = Number.NEGATIVE_INFINITY;

  constructor(store: OutboxStore, options: HeartbeatWriterOptions) {
    this.#store = store;
    this.#options = options;
  }

  /**
   * A new run of the relay: the published count starts again, the next `beatIfDue()` writes.
   * Consecutive failures carry on, as the relay's own count does.
   */
  restart(): void {
    this.#startedAt = new Date();
    this.#published = 0;
    this.#lastBeatAt = Number.NEGATIVE_INFINITY;
  }

  /** A batch of `count` messages (0: the outbox was empty) was published and marked. */
  recordPublished(count: number): void {
    this.#failures = 0;
    if (count === 0) return;
    this.#published += count;
    this.#lastPublishedAt = new Date();
  }

  /** Publishing failed, for the `consecutiveFailures`-th time in a row. */
  recordFailure(error: unknown, consecutiveFailures: number): void {
    this.#failures = consecutiveFailures;
    this.#lastError = shortErrorText(error);
    this.#lastErrorAt = new Date();
  }

  /** Milliseconds until the next heartbeat is due (0 when it is). */
  msUntilDue(): number {
    return Math.max(0, this.#lastBeatAt + this.#options.heartbeatIntervalMs - Date.now());
  }

  /** Writes a heartbeat if one is due. Never throws. */
  async beatIfDue(): Promise<void> {
    if (this.msUntilDue() === 0) await this.beat(false);
  }

  /** Writes a heartbeat now (`stopped`: the last one, from a clean stop). Never throws. */
  async beat(stopped: boolean): Promise<void> {
    const { relayId, host, pid, heartbeatIntervalMs, logger } = this.#options;
    // Counted as written even when it fails: a database that is down gets one try per interval.
    this.#lastBeatAt = Date.now();
    try {
      await this.#store.recordHeartbeat({
        relayId,
        host,
        pid,
        heartbeatIntervalMs,
        startedAt: this.#startedAt,
        published: this.#published,
        lastPublishedAt: this.#lastPublishedAt,
        consecutiveFailures: this.#failures,
        lastError: this.#lastError,
        lastErrorAt: this.#lastErrorAt,
        stopped,
      });
      if (!stopped) await this.#pruneIfDue();
    } catch (error) {
      logger.warn(
        { relayId, error: describeError(error) },
        `relay ${relayId} could not write its heartbeat (${shortErrorText(error)}); publishing goes on, next try in ${heartbeatIntervalMs} ms`,
      );
    }
  }

  async #pruneIfDue(): Promise<void> {
    if (Date.now() - this.#lastPruneAt < this.#options.pruneIntervalMs) return;
    this.#lastPruneAt = Date.now();
    const pruned = await this.#store.pruneRelays(new Date(Date.now() - this.#options.retentionMs));
    if (pruned > 0)
      this.#options.logger.debug({ relayId: this.#options.relayId, pruned }, 'pruned relay heartbeats');
  }
}
