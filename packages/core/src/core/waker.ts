/**
 * Sleeps until a timeout passes or someone calls `wake()`, whichever comes first. Engines use it
 * to wait for work: a notification wakes them early, polling is the fallback. The timer keeps the
 * process alive, as a running relay or consumer should; `stop()` of an engine wakes its waker.
 */
export class Waker {
  #pending: ((woken: boolean) => void) | null = null;
  #timer: NodeJS.Timeout | null = null;
  #woken = false;

  /**
   * Resolves after `ms`, or at once if `wake()` was called since the last wait; with true when
   * `wake()` ended it, false when the time ran out.
   */
  wait(ms: number): Promise<boolean> {
    if (this.#woken) {
      this.#woken = false;
      return Promise.resolve(true);
    }
    return new Promise((resolve) => {
      this.#pending = resolve;
      this.#timer = setTimeout(() => this.#settle(false), Math.max(0, ms));
    });
  }

  wake(): void {
    if (this.#pending === null) {
      this.#woken = true;
      return;
    }
    this.#settle(true);
  }

  #settle(woken: boolean): void {
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    const resolve = this.#pending;
    this.#pending = null;
    resolve?.(woken);
  }
}
