/**
 * Runs each Sysops Squad service as its own OS process, restarts one that the chaos killed, and
 * kills with SIGKILL on request. A service that exits by itself (not killed) is a failure of the
 * reference system: it is restarted too, and reported. The event demo's services run
 * `services/main.js <name>`; a spec may name another script (the orchestrated variant's
 * participants and orchestrator instances).
 *
 * Every child is ended by its PID in `stopAll()`; nothing here outlives the demo. When the demo's
 * process dies before `stopAll()` (SIGKILL, a crash), each child sees the IPC channel it was
 * started with close and exits (`services/exit-with-parent.ts`); the channel carries no messages.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream, type WriteStream } from 'node:fs';
import { join } from 'node:path';
import type { ServiceName } from '../services/start-service.js';

const MAIN = join(import.meta.dirname, '..', 'services', 'main.js');

export interface ServiceSpec<Name extends string = ServiceName> {
  readonly name: Name;
  readonly env: Readonly<Record<string, string>>;
  /** The script to run and its arguments. Default: `services/main.js <name>`. */
  readonly main?: string;
  readonly args?: readonly string[];
}

export class Supervisor<Name extends string = ServiceName> {
  readonly #specs: ReadonlyMap<Name, ServiceSpec<Name>>;
  readonly #logDir: string;
  readonly #running = new Map<Name, { child: ChildProcess; startedAt: number; ready: boolean }>();
  readonly #logs = new Map<Name, WriteStream>();
  readonly #unexpectedExits: string[] = [];
  readonly #killed = new Set<ChildProcess>();
  /** The planned crash (`SYSOPS_CRASH_AT`) of each service's next incarnation, if any. */
  readonly #crashPlans = new Map<Name, string>();
  /** Planned crashes that happened, by fault point. */
  readonly seamCrashes: Record<string, number> = {};
  #stopping = false;
  /** When the last restarted service said it was ready. */
  lastRecoveredAt = 0;

  constructor(specs: readonly ServiceSpec<Name>[], logDir: string) {
    this.#specs = new Map(specs.map((spec) => [spec.name, spec]));
    this.#logDir = logDir;
  }

  /** Exits that no one asked for, with the end of the service's stderr. */
  get unexpectedExits(): readonly string[] {
    return this.#unexpectedExits;
  }

  /** Starts every service and resolves when all say `ready`. */
  async startAll(): Promise<void> {
    await Promise.all([...this.#specs.keys()].map((name) => this.#start(name)));
  }

  /** Services running and ready for at least `minAgeMs`. */
  killable(minAgeMs: number, now = Date.now()): Name[] {
    return [...this.#running.entries()]
      .filter(([, entry]) => entry.ready && now - entry.startedAt >= minAgeMs)
      .map(([name]) => name);
  }

  /**
   * SIGKILLs `name`; it is started again after `restartAfterMs`, with `crashAt` (`point:n`) as
   * its planned crash when given.
   */
  kill(name: Name, restartAfterMs: number, crashAt?: string): void {
    const entry = this.#running.get(name);
    if (entry === undefined) return;
    if (crashAt !== undefined) this.#crashPlans.set(name, crashAt);
    this.#killed.add(entry.child);
    entry.child.once('exit', () => {
      setTimeout(() => {
        this.#start(name).catch(() => undefined);
      }, restartAfterMs);
    });
    entry.child.kill('SIGKILL');
  }

  async stopAll(): Promise<void> {
    this.#stopping = true;
    const exits = [...this.#running.values()].map(
      ({ child }) =>
        new Promise<void>((resolve) => {
          if (child.exitCode !== null || child.signalCode !== null) resolve();
          else child.once('exit', () => resolve());
        }),
    );
    for (const { child } of this.#running.values()) child.kill('SIGKILL');
    await Promise.all(exits);
    for (const log of this.#logs.values()) log.end();
  }

  #start(name: Name): Promise<void> {
    const spec = this.#specs.get(name);
    if (spec === undefined || this.#stopping) return Promise.resolve();
    const log = this.#log(name);
    const crashAt = this.#crashPlans.get(name);
    this.#crashPlans.delete(name);
    const child = spawn(process.execPath, [spec.main ?? MAIN, ...(spec.args ?? [name])], {
      env: { ...process.env, ...spec.env, SYSOPS_CRASH_AT: crashAt ?? '' },
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    });
    const entry = { child, startedAt: Date.now(), ready: false };
    this.#running.set(name, entry);
    let stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => {
      log.write(chunk);
      stderr = (stderr + chunk.toString()).slice(-2000);
    });
    child.once('exit', (code, signal) => {
      if (this.#running.get(name)?.child === child) this.#running.delete(name);
      if (this.#stopping || this.#killed.delete(child)) return;
      this.#unexpectedExits.push(
        `${name} (pid ${child.pid}) exited with ${signal ?? `code ${code}`}: ${stderr}`,
      );
      setTimeout(() => this.#start(name).catch(() => undefined), 200);
    });
    return new Promise<void>((resolve) => {
      let out = '';
      child.stdout?.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        if (!entry.ready && out.includes('ready\n')) {
          entry.ready = true;
          this.lastRecoveredAt = Date.now();
          resolve();
        }
        const planned = /crash (\S+)\n/.exec(out);
        if (planned !== null && !this.#killed.has(child)) {
          // The service is about to kill itself at its planned seam: a fault, not a failure.
          this.#killed.add(child);
          this.seamCrashes[planned[1]!] = (this.seamCrashes[planned[1]!] ?? 0) + 1;
          child.once('exit', () => setTimeout(() => this.#start(name).catch(() => undefined), 100));
        }
      });
      child.once('exit', () => resolve());
    });
  }

  #log(name: Name): WriteStream {
    let log = this.#logs.get(name);
    if (log === undefined) {
      log = createWriteStream(join(this.#logDir, `${name}.log`), { flags: 'a' });
      this.#logs.set(name, log);
    }
    return log;
  }
}
