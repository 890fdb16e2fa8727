import type { Storage } from '../ports/storage.js';

export interface PruneIdempotencyKeysOptions {
  /** Keys recorded longer ago than this are deleted. Keep it longer than any caller retries a request. */
  readonly olderThanMs: number;
  /** Rows deleted per statement, so a large backlog never holds locks for long. Default 1000. */
  readonly chunkSize?: number;
  /** Default: now. */
  readonly now?: () => Date;
}

/**
 * Deletes the participant's idempotency keys (with their stored responses) recorded more than
 * `olderThanMs` ago, in chunks of `chunkSize`, and returns how many. After that a repeat of such a
 * key runs as a new request: choose a retention longer than the orchestrator's retries (a saga's
 * lifetime), e.g. 7 days.
 *
 * @example
 * setInterval(() => void pruneIdempotencyKeys(storage, { olderThanMs: 7 * 86_400_000 }), 3_600_000);
 */
export async function pruneIdempotencyKeys(
  storage: Storage,
  options: PruneIdempotencyKeysOptions,
): Promise<number> {
  const chunkSize = Math.max(1, Math.trunc(options.chunkSize ?? 1000));
  const before = new Date((options.now?.() ?? new Date()).getTime() - options.olderThanMs);
  let total = 0;
  for (;;) {
    const deleted = await storage.idempotency.prune(before, chunkSize);
    total += deleted;
    if (deleted < chunkSize) return total;
  }
}
