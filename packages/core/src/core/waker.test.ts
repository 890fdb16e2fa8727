import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Waker } from './waker.js';

/** Records whether `promise` has settled, for checks between fake-clock steps. */
function track(promise: Promise<boolean>): { settled: boolean; woken?: boolean } {
  const state: { settled: boolean; woken?: boolean } = { settled: false };
  void promise.then((woken) => {
    state.settled = true;
    state.woken = woken;
  });
  return state;
}

/** Runs pending promise callbacks without moving the fake clock. */
const flush = () => vi.advanceTimersByTimeAsync(0);

describe('Waker', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });

  afterEach(() => {
    vi.useRealTimers();
  });

  it('resolves after the timeout when nobody wakes it', async () => {
    const waiting = track(new Waker().wait(500));

    await vi.advanceTimersByTimeAsync(499);
    expect(waiting.settled).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(waiting).toEqual({ settled: true, woken: false });
  });

  it('resolves on wake() before the timeout and leaves no timer behind', async () => {
    const waker = new Waker();
    const waiting = track(waker.wait(10_000));
    await vi.advanceTimersByTimeAsync(1_000);
    expect(waiting.settled).toBe(false);

    waker.wake();
    await flush();

    expect(waiting).toEqual({ settled: true, woken: true });
    expect(vi.getTimerCount()).toBe(0);
  });

  it('remembers a wake() that came before wait(), for the next wait only', async () => {
    const waker = new Waker();
    waker.wake();
    waker.wake();

    const first = track(waker.wait(10_000));
    await flush();
    expect(first.settled).toBe(true);

    const second = track(waker.wait(10_000));
    await vi.advanceTimersByTimeAsync(9_999);
    expect(second.settled).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(second.settled).toBe(true);
  });

  it('is reusable: a wait after a woken wait runs to its own timeout', async () => {
    const waker = new Waker();
    const first = track(waker.wait(1_000));
    waker.wake();
    await flush();
    expect(first.settled).toBe(true);

    const second = track(waker.wait(1_000));
    await vi.advanceTimersByTimeAsync(999);
    expect(second.settled).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(second.settled).toBe(true);
  });
});
