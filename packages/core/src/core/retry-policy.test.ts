import { describe, expect, it } from 'vitest';
import { backoffDelayMs, DEFAULT_RETRY_POLICY, type RetryPolicy } from './retry-policy.js';

const POLICY: RetryPolicy = { maxAttempts: 10, initialDelayMs: 100, maxDelayMs: 5_000, multiplier: 3 };
const lowest = () => 0;
const highest = () => 0.999;

describe('backoffDelayMs', () => {
  it.each([
    [1, 100],
    [2, 300],
    [3, 900],
    [4, 2_700],
    [5, 5_000],
    [6, 5_000],
    [40, 5_000],
  ])('after %i failed attempts the delay lies between half of %i ms and all of it', (attempt, ceiling) => {
    const low = backoffDelayMs(POLICY, attempt, lowest);
    const high = backoffDelayMs(POLICY, attempt, highest);

    expect(low).toBe(ceiling / 2);
    expect(high).toBeLessThanOrEqual(ceiling);
    expect(high).toBeGreaterThanOrEqual(ceiling * 0.99);
  });

  it('never exceeds maxDelayMs, even when the exponent overflows', () => {
    const delay = backoffDelayMs(POLICY, 5_000, highest);
    expect(Number.isFinite(delay)).toBe(true);
    expect(delay).toBeLessThanOrEqual(POLICY.maxDelayMs);
  });

  it('is never zero or negative', () => {
    const tiny: RetryPolicy = { maxAttempts: 3, initialDelayMs: 1, maxDelayMs: 1, multiplier: 2 };
    for (const policy of [tiny, DEFAULT_RETRY_POLICY, POLICY]) {
      for (let attempt = 1; attempt <= 20; attempt += 1) {
        for (const r of [0, 0.25, 0.5, 0.999]) {
          expect(backoffDelayMs(policy, attempt, () => r)).toBeGreaterThanOrEqual(1);
        }
      }
    }
  });

  it('spreads delays with Math.random by default, within the first ceiling', () => {
    for (let i = 0; i < 50; i += 1) {
      const delay = backoffDelayMs(DEFAULT_RETRY_POLICY, 1);
      expect(delay).toBeGreaterThanOrEqual(DEFAULT_RETRY_POLICY.initialDelayMs / 2);
      expect(delay).toBeLessThanOrEqual(DEFAULT_RETRY_POLICY.initialDelayMs);
    }
  });
});
