/**
 * Sleeps until a timeout passes or someone calls `wake()`, whichever comes first. Engines use it
 * to wait for work: a notification wakes them early, polling is the fallback. The timer keeps the
 * process alive, as a running relay or consumer should; `stop()` of an engine wakes its waker.
 */
export class Waker {
  #pending: (() => void) | null = null;
  #timer: NodeJS.Timeout | null = null;
  #woken = false;

  /** Resolves after `ms`, or at once if `wake()` was called since the last wait. */
  wait(ms: number): Promise<void> {
    if (this.#woken) {
      this.#woken = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      this.#pending = resolve;
      this.#timer = setTimeout(() => this.#settle(), Math.max(0, ms));
    });
  }

  wake(): void {
    if (this.#pending === null) {
      this.#woken = true;
      return;
    }
    this.#settle();
  }

  #settle(): void {
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    const resolve = this.#pending;
    this.#pending = null;
    resolve?.();
  }
}
