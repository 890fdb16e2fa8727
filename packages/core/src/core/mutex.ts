/**
 * Runs async sections one at a time, in arrival order. A SQLite connection has one transaction
 * at a time, so every use of a shared connection goes through one of these.
 */
export class AsyncMutex {
  #tail: Promise<unknown> = Promise.resolve();

  run<T>(section: () => Promise<T> | T): Promise<T> {
    const result = this.#tail.then(section);
    this.#tail = result.catch(() => undefined);
    return result;
  }
}
