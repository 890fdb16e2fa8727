/**
 * Runs the crash-test children (producer, relay, consumer) as real processes, restarts each one
 * whenever it dies, and kills them with SIGKILL: at planned fault points (the child kills itself
 * the n-th time it reaches its point, see `children/common.mjs`) and at random moments.
 *
 * Every loop here is bounded: chaos stops after `chaosLimitMs` even if the kill targets are not
 * met (the test then fails on its counts), and `stopAll()` ends every child by its PID.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export type Role = 'producer' | 'relay' | 'consumer';

export interface ChildSpec {
  readonly role: Role;
  readonly env: Record<string, string>;
  /** The fault point this role can die at, and the planned kills there (each an `n`: die at the n-th reach). */
  readonly faultPoint: string;
  readonly plannedFaults: number[];
}

export interface KillCounts {
  /** Kills by a child at its planned fault point, per point. */
  readonly atFaultPoint: Record<string, number>;
  /** Kills by the supervisor at random moments, per role. */
  readonly random: Record<Role, number>;
  readonly total: number;
}

const CHILDREN = join(import.meta.dirname, 'children');

export class Supervisor {
  readonly #specs: Map<Role, ChildSpec>;
  readonly #crashLog: string;
  readonly #running = new Map<Role, ChildProcess>();
  readonly #startedAt = new Map<Role, number>();
  readonly #random: Record<Role, number> = { producer: 0, relay: 0, consumer: 0 };
  readonly #failures: string[] = [];
  #producerDone = false;
  #chaos = true;
  #stopping = false;

  constructor(specs: readonly ChildSpec[], crashLog: string) {
    this.#specs = new Map(
      specs.map((spec) => [spec.role, { ...spec, plannedFaults: [...spec.plannedFaults] }]),
    );
    this.#crashLog = crashLog;
  }

  get producerDone(): boolean {
    return this.#producerDone;
  }

  /** Children that exited other than by SIGKILL or a producer's success, with their stderr. */
  get failures(): readonly string[] {
    return this.#failures;
  }

  startAll(): void {
    for (const role of this.#specs.keys()) this.#start(role);
  }

  /**
   * Every `minMs`–`maxMs`, kills a random child that has run for at least `minAgeMs` (so each
   * incarnation gets to do some work), until `enough()` or `limitMs`.
   */
  async randomKills(options: {
    minMs: number;
    maxMs: number;
    minAgeMs: number;
    limitMs: number;
    enough: () => boolean;
  }): Promise<void> {
    const deadline = Date.now() + options.limitMs;
    while (!options.enough() && Date.now() < deadline && this.#failures.length === 0) {
      await sleep(options.minMs + Math.random() * (options.maxMs - options.minMs));
      const now = Date.now();
      const candidates = [...this.#running.keys()].filter(
        (role) => now - (this.#startedAt.get(role) ?? now) >= options.minAgeMs,
      );
      const role = candidates[Math.floor(Math.random() * candidates.length)];
      if (role === undefined) continue;
      this.#running.get(role)?.kill('SIGKILL');
      this.#random[role] += 1;
    }
  }

  /** From now on, restarted children run without planned faults. */
  endChaos(): void {
    this.#chaos = false;
  }

  #diedAtFault(pid: number | undefined): boolean {
    return readLines(this.#crashLog).some((line) => (JSON.parse(line) as { pid: number }).pid === pid);
  }

  kills(): KillCounts {
    const atFaultPoint: Record<string, number> = {};
    for (const line of readLines(this.#crashLog)) {
      const { point } = JSON.parse(line) as { point: string };
      atFaultPoint[point] = (atFaultPoint[point] ?? 0) + 1;
    }
    const planned = Object.values(atFaultPoint).reduce((a, b) => a + b, 0);
    const random = { ...this.#random };
    return { atFaultPoint, random, total: planned + random.producer + random.relay + random.consumer };
  }

  async stopAll(): Promise<void> {
    this.#stopping = true;
    const exits = [...this.#running.values()].map(
      (child) => new Promise<void>((resolve) => child.once('exit', () => resolve())),
    );
    for (const child of this.#running.values()) child.kill('SIGKILL');
    await Promise.all(exits);
  }

  #start(role: Role): void {
    const spec = this.#specs.get(role);
    if (spec === undefined || this.#stopping) return;
    const nth = this.#chaos ? spec.plannedFaults.shift() : undefined;
    const child = spawn(process.execPath, [join(CHILDREN, `${role}.mjs`)], {
      env: {
        ...process.env,
        ...spec.env,
        CRASH_LOG: this.#crashLog,
        CRASH_AT: nth === undefined ? '' : `${spec.faultPoint}:${nth}`,
      },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr = (stderr + chunk.toString()).slice(-4000);
    });
    this.#running.set(role, child);
    this.#startedAt.set(role, Date.now());
    child.once('exit', (code, signal) => {
      if (this.#running.get(role) === child) this.#running.delete(role);
      if (this.#stopping) return;
      if (role === 'producer' && code === 0) {
        this.#producerDone = true;
        return;
      }
      if (signal !== 'SIGKILL') {
        this.#failures.push(`${role} (pid ${child.pid}) exited with ${signal ?? `code ${code}`}:\n${stderr}`);
        return;
      }
      // A random kill came first: the planned fault goes to the next incarnation.
      if (nth !== undefined && !this.#diedAtFault(child.pid)) spec.plannedFaults.unshift(nth);
      setTimeout(() => this.#start(role), 10);
    });
  }
}

function readLines(path: string): string[] {
  try {
    return readFileSync(path, 'utf8')
      .split('\n')
      .filter((line) => line.length > 0);
  } catch {
    return [];
  }
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
