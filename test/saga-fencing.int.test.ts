/**
 * Fencing with real processes: two orchestrator instances (test/fixtures/saga-holder.mjs) on one
 * PostgreSQL database. The first holds a saga and writes a transition every 20 ms, renewing its
 * 500 ms lease each time; it is stopped with SIGSTOP, the second claims the saga once the lease
 * has lapsed and writes under the next token, then the first is continued with SIGCONT and
 * carries on as if nothing happened. Not one of its writes may be accepted after that: the log
 * shows every transition under the token current when it was written. Runs the built package
 * (`npm run build`, done by `npm test`).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { newMessageId } from '../packages/core/src/core/ids.js';
import type { Storage } from '../packages/core/src/index.js';
import { createPostgresStorage } from '../packages/core/src/storage/postgres/index.js';
import { createPostgresTestDatabase } from '../packages/core/src/testing/postgres-test-database.js';
import { waitFor } from '../packages/core/src/testing/wait-for.js';

const HOLDER = join(import.meta.dirname, 'fixtures', 'saga-holder.mjs');
const LEASE_MS = 500;

interface HolderEvent {
  readonly owner: string;
  readonly event: 'claimed' | 'recorded' | 'fenced' | 'no-claim';
  readonly token?: number;
  readonly op?: string;
}

/** One saga-holder process and what it printed. */
class Holder {
  readonly events: HolderEvent[] = [];
  readonly child: ChildProcess;
  readonly exited: Promise<number | null>;
  #stderr = '';

  constructor(url: string, owner: string, maxWrites: number) {
    this.child = spawn(process.execPath, [HOLDER], {
      env: {
        ...process.env,
        DATABASE_URL: url,
        OWNER: owner,
        LEASE_MS: String(LEASE_MS),
        MAX_WRITES: String(maxWrites),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let pending = '';
    this.child.stdout?.on('data', (chunk: Buffer) => {
      pending += chunk.toString();
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) if (line !== '') this.events.push(JSON.parse(line) as HolderEvent);
    });
    this.child.stderr?.on('data', (chunk: Buffer) => {
      this.#stderr += chunk.toString();
    });
    this.exited = new Promise((resolve) => this.child.once('exit', (code) => resolve(code)));
  }

  get stderr(): string {
    return this.#stderr;
  }

  count(event: HolderEvent['event']): number {
    return this.events.filter((e) => e.event === event).length;
  }

  /** Ends the process if it still runs (by its PID; continued first, so a stopped one can die too). */
  stop(): void {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.child.kill('SIGCONT');
    this.child.kill('SIGKILL');
  }
}

const db = await createPostgresTestDatabase('saga fencing across processes');
let storage: Storage | undefined;
const holders: Holder[] = [];

beforeAll(async () => {
  if (db === null) return;
  storage = createPostgresStorage({ connectionString: db.url });
  await storage.migrate();
});
afterEach(() => {
  for (const holder of holders.splice(0)) holder.stop();
});
afterAll(async () => {
  await storage?.close();
  await db?.drop();
});

describe.skipIf(!db)('saga fencing across processes', () => {
  it('an instance stopped past its lease and continued has none of its writes accepted', async () => {
    const id = newMessageId();
    await storage!.sagas.start({
      id,
      name: 'unsubscribe',
      version: 1,
      input: { customerId: 'c-1' },
      snapshot: {},
      idempotencyKey: null,
      at: new Date(),
    });
    const first = new Holder(db!.url, 'first', 100_000);
    holders.push(first);
    await waitFor('the first instance to record 3 transitions', () => first.count('recorded') >= 3);
    first.child.kill('SIGSTOP');

    const second = new Holder(db!.url, 'second', 5);
    holders.push(second);
    await waitFor('the second instance to claim the saga and record', () => second.count('recorded') >= 1);
    first.child.kill('SIGCONT');
    await waitFor('the continued first instance to be refused', () => first.count('fenced') > 0, 30_000);
    const [firstCode, secondCode] = await Promise.all([first.exited, second.exited]);
    expect([firstCode, secondCode], `${first.stderr}${second.stderr}`).toEqual([0, 0]);

    expect(first.events[0]).toMatchObject({ event: 'claimed', token: 1 });
    expect(second.events[0]).toMatchObject({ event: 'claimed', token: 2 });
    expect(first.events.at(-1)?.event).toBe('fenced');
    expect(second.count('recorded')).toBe(5);

    const log = (await storage!.sagas.transitions(id)).slice(1);
    const byOwner = (owner: string) =>
      log.filter((entry) => (entry.detail as { owner: string }).owner === owner);
    // Every write the first instance saw accepted is in the log, and nothing more from it.
    expect(byOwner('first')).toHaveLength(first.count('recorded'));
    expect(byOwner('first').every((entry) => entry.fencingToken === 1)).toBe(true);
    expect(byOwner('second').every((entry) => entry.fencingToken === 2)).toBe(true);
    // The token in force never went back: all of the first's writes precede the second's claim.
    const tokens = log.map((entry) => entry.fencingToken);
    expect(tokens).toEqual([...tokens].sort((a, b) => a - b));
    expect(log.map((entry) => entry.seq)).toEqual(log.map((_, i) => i + 2));
    expect(await storage!.sagas.get(id)).toMatchObject({
      status: 'completed',
      fencingToken: 2,
      snapshot: { owner: 'second', i: 5 },
      transitions: 1 + log.length,
    });
  }, 90_000);
});
