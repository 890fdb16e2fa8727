/**
 * How often and how fast to try again: exponential backoff with "equal jitter" (AWS Architecture
 * Blog, "Exponential Backoff And Jitter"), so that many consumers failing together do not retry
 * together.
 */
export interface RetryPolicy {
  /** Attempts in all, the first included. Default 8. */
  readonly maxAttempts: number;
  /** Upper bound of the first delay. Default 200 ms. */
  readonly initialDelayMs: number;
  /** Upper bound of any delay. Default 30000 ms. */
  readonly maxDelayMs: number;
  /** Growth per attempt. Default 2. */
  readonly multiplier: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = Object.freeze({
  maxAttempts: 8,
  initialDelayMs: 200,
  maxDelayMs: 30_000,
  multiplier: 2,
});

/**
 * The delay before attempt `attempt + 1`, given that `attempt` attempts (≥ 1) have failed.
 * Equal jitter: uniformly random between half the ceiling and the ceiling, never zero, so a
 * retry never comes sooner than half the nominal delay (full jitter could retry at once).
 */
export function backoffDelayMs(
  policy: RetryPolicy,
  attempt: number,
  random: () => number = Math.random,
): number {
  const ceiling = Math.min(
    policy.maxDelayMs,
    policy.initialDelayMs * policy.multiplier ** Math.max(0, attempt - 1),
  );
  return Math.max(1, Math.round(ceiling / 2 + (random() * ceiling) / 2));
}
