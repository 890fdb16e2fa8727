/**
 * Automatic redrive: the step that removes "re-publish by hand after every outage".
 *
 * A message whose handler kept failing for a *transient* reason (retries exhausted while a
 * dependency was down) becomes a dead letter like any other. Once the consumer has applied
 * messages again (the dependency is back), those dead letters are asked for a replay by
 * themselves, oldest first and at most `ratePerSecond`, so the retry loop replays them through the
 * inbox in per-key order. With no success to go by (every key waiting), one dead letter is tried
 * every `probeIntervalMs` as a probe. After a success, a message is redriven at most
 * `maxPerMessage` times (so one that fails for reasons of its own does not loop); probes ignore
 * that cap, one message per interval, so even a long outage ends without anyone's help.
 * Permanent reasons are never redriven.
 */
import { DeadLetterReason } from '../ports/inbox-store.js';
import type { Storage } from '../ports/storage.js';

export interface AutoRedriveOptions {
  /** Most dead letters asked for a replay per second. Default 10. */
  readonly ratePerSecond?: number;
  /** How often one dead letter is tried when nothing succeeded meanwhile. Default 30000 ms. */
  readonly probeIntervalMs?: number;
  /** Most redrives of one message after successes (counting its dead letters). Default 3. */
  readonly maxPerMessage?: number;
}

/** The reasons that may heal by themselves. */
export const TRANSIENT_REASONS: readonly DeadLetterReason[] = Object.freeze([
  DeadLetterReason.HANDLER_RETRIES_EXHAUSTED,
  DeadLetterReason.HANDLER_TIMEOUT,
]);

export const AUTO_REDRIVE_ACTOR = 'converge:auto-redrive';

export class AutoRedrive {
  readonly #storage: Storage;
  readonly #consumer: string;
  readonly #rate: number;
  readonly #probeIntervalMs: number;
  readonly #maxPerMessage: number;
  #appliedAtLastTick = 0;
  #lastTickAt = Date.now();
  #lastProbeAt = Date.now();

  constructor(storage: Storage, consumer: string, options: AutoRedriveOptions = {}) {
    this.#storage = storage;
    this.#consumer = consumer;
    this.#rate = options.ratePerSecond ?? 10;
    this.#probeIntervalMs = options.probeIntervalMs ?? 30_000;
    this.#maxPerMessage = options.maxPerMessage ?? 3;
  }

  /**
   * Asks for the replay of transient dead letters when the consumer has applied messages since
   * the last tick (`applied` counts them), or one as a probe when a probe is due.
   * Returns how many it asked for.
   */
  async tick(applied: number, now = Date.now()): Promise<number> {
    const succeeded = applied > this.#appliedAtLastTick;
    const probe = !succeeded && now - this.#lastProbeAt >= this.#probeIntervalMs;
    const elapsedMs = Math.max(0, now - this.#lastTickAt);
    this.#appliedAtLastTick = applied;
    if (!succeeded && !probe) {
      this.#lastTickAt = now;
      return 0;
    }
    const budget = probe ? 1 : Math.max(1, Math.min(this.#rate, Math.floor((this.#rate * elapsedMs) / 1000)));
    this.#lastTickAt = now;
    if (probe) this.#lastProbeAt = now;
    // The cap stops a message that fails for its own reasons from being redriven forever while
    // others succeed; a probe (one message per interval) ignores it, so a long outage that
    // outlasts several redrives still ends without anyone's help.
    const letters = await this.#storage.inbox.openDeadLetters(
      this.#consumer,
      TRANSIENT_REASONS,
      probe ? Number.MAX_SAFE_INTEGER : this.#maxPerMessage,
      budget,
    );
    let asked = 0;
    for (const letter of letters) {
      const moved = await this.#storage.transaction((tx) =>
        this.#storage.inbox.transitionDeadLetter(tx, letter.id, ['open'], 'replaying', {
          actor: AUTO_REDRIVE_ACTOR,
          action: 'replay-requested',
          detail: probe
            ? 'probe: nothing succeeded for a while; trying one transient failure again'
            : 'the consumer applies messages again; transient failures are replayed by themselves',
        }),
      );
      if (moved) asked += 1;
    }
    return asked;
  }
}
