/**
 * The parent's side of the child-process protocol (see `child-side.js`): forks a bench script,
 * keeps its `stats` samples, waits for its messages with a timeout, and kills it by PID when the
 * run aborts.
 */
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** @type {Set<BenchChild>} */
const live = new Set();

/** Kills every child still running (SIGKILL, by PID). */
export function killAllChildren() {
  for (const child of live) child.kill();
}

export class BenchChild {
  /** @type {{ atMs: number, rss: number, heapUsed: number, maxRss: number, count: number }[]} */
  samples = [];
  /** @type {{ type: string, predicate: (m: object) => boolean, resolve: (m: object) => void, reject: (e: Error) => void }[]} */
  #waiters = [];
  /** @type {{ code: number | null, signal: string | null } | null} */
  exited = null;
  #exitPromise;

  /**
   * @param {string} name shown in errors
   * @param {string} script file name under bench/
   * @param {object} config passed as JSON in argv[2]
   */
  constructor(name, script, config) {
    this.name = name;
    const path = fileURLToPath(new URL(script, import.meta.url));
    this.process = fork(path, [JSON.stringify(config)], {
      serialization: 'advanced',
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    live.add(this);
    this.process.on('message', (message) => this.#onMessage(message));
    this.#exitPromise = new Promise((resolve) => {
      this.process.on('exit', (code, signal) => {
        this.exited = { code, signal };
        live.delete(this);
        for (const waiter of this.#waiters.splice(0)) {
          waiter.reject(
            new Error(
              `${this.name} exited (code ${code}, signal ${signal}) while waiting for '${waiter.type}'.`,
            ),
          );
        }
        resolve(this.exited);
      });
    });
  }

  #onMessage(message) {
    if (message?.type === 'stats') this.samples.push(message);
    for (const waiter of [...this.#waiters]) {
      if (waiter.type === message?.type && waiter.predicate(message)) {
        this.#waiters.splice(this.#waiters.indexOf(waiter), 1);
        waiter.resolve(message);
      }
    }
  }

  send(message) {
    if (this.process.connected) this.process.send(message);
  }

  /** The next message of `type` (matching `predicate`), or an error after `timeoutMs`. */
  waitFor(type, timeoutMs, predicate = () => true) {
    if (this.exited !== null) return Promise.reject(new Error(`${this.name} has exited.`));
    return new Promise((resolve, reject) => {
      const waiter = { type, predicate, resolve, reject };
      const timer = setTimeout(() => {
        this.#waiters.splice(this.#waiters.indexOf(waiter), 1);
        reject(new Error(`${this.name}: no '${type}' within ${timeoutMs} ms.`));
      }, timeoutMs);
      waiter.resolve = (message) => {
        clearTimeout(timer);
        resolve(message);
      };
      waiter.reject = (error) => {
        clearTimeout(timer);
        reject(error);
      };
      this.#waiters.push(waiter);
    });
  }

  /** Asks the child to stop; kills it if it has not exited after `timeoutMs`. */
  async stop(timeoutMs) {
    if (this.exited !== null) return this.exited;
    const stopped = this.waitFor('stopped', timeoutMs).catch(() => this.kill());
    this.send({ type: 'stop' });
    await stopped;
    return this.#exitPromise;
  }

  kill() {
    if (this.exited === null && this.process.pid !== undefined) {
      try {
        process.kill(this.process.pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
  }
}
