/**
 * A participant process killed with SIGKILL at the worst seam — its effect and idempotency key
 * committed, the response not yet written — and restarted: the caller's retry with the same key
 * gets the stored response (written by the dead process) and the effect exists once. Runs the
 * built `@converge/core` in a real child process, for the node:http handler and the Hono
 * middleware, on each backend.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { FaultPoint, type Storage } from '../packages/core/src/index.js';
import { availableBackends, type TestDatabases } from './support/backends.js';
import { createChargeTable } from './support/participant-app.js';

const backends = await availableBackends();
const matrix = backends.flatMap((backend) =>
  (['node', 'hono'] as const).map((adapter) => ({ backend, adapter })),
);
const SERVER = join(import.meta.dirname, 'participant', 'participant-server.mjs');
const START_BOUND_MS = 20_000;

interface Participant {
  readonly child: ChildProcess;
  readonly url: string;
  readonly exited: Promise<NodeJS.Signals | number | null>;
}

/** Starts the participant process and resolves once it listens (bounded: fails after START_BOUND_MS). */
function startParticipant(env: Record<string, string>): Promise<Participant> {
  const child = spawn(process.execPath, [SERVER], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<NodeJS.Signals | number | null>((resolve) =>
    child.once('exit', (code, signal) => resolve(signal ?? code)),
  );
  let stderr = '';
  child.stderr?.on('data', (chunk) => {
    stderr += chunk;
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`participant did not listen within ${START_BOUND_MS} ms: ${stderr}`)),
      START_BOUND_MS,
    );
    child.stdout?.on('data', (chunk: Buffer) => {
      const port = /listening (\d+)/.exec(chunk.toString())?.[1];
      if (port === undefined) return;
      clearTimeout(timer);
      resolve({ child, url: `http://127.0.0.1:${port}/charges`, exited });
    });
    void exited.then((how) => {
      clearTimeout(timer);
      reject(new Error(`participant exited (${String(how)}) before listening: ${stderr}`));
    });
  });
}

describe.each(matrix)(
  'participant killed after commit, before its response: $adapter on $backend.name',
  ({ backend, adapter }) => {
    let databases: TestDatabases;
    let storage: Storage;
    const children: ChildProcess[] = [];

    beforeAll(async () => {
      databases = (await backend.create())!;
      storage = await databases.open('billing');
      await createChargeTable(storage);
    });
    afterEach(() => {
      for (const child of children.splice(0))
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    });
    afterAll(async () => {
      await databases.cleanup();
    });

    it('the retry after a restart gets the stored response, and the effect exists once', async () => {
      const env = { DB_URL: databases.url('billing'), ADAPTER: adapter };
      const doomed = await startParticipant({
        ...env,
        CRASH_AT: FaultPoint.AFTER_PARTICIPANT_COMMIT_BEFORE_RESPONSE,
      });
      children.push(doomed.child);
      const request = {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'idempotency-key': 'saga-9:charge' },
        body: JSON.stringify({ customer: 'c-9', cents: 700 }),
      };
      await expect(fetch(doomed.url, request)).rejects.toThrow();
      expect(await doomed.exited).toBe('SIGKILL');
      const charges = () =>
        storage.transaction((tx) => tx.query<{ n: number | string }>('SELECT count(*) AS n FROM charge'));
      expect(Number((await charges())[0]?.n)).toBe(1);

      const restarted = await startParticipant(env);
      children.push(restarted.child);
      const retry = await fetch(restarted.url, request);
      expect(retry.status).toBe(201);
      expect(retry.headers.get('idempotent-replayed')).toBe('true');
      expect(await retry.json()).toEqual({ charged: 700, pid: doomed.child.pid });
      expect(Number((await charges())[0]?.n)).toBe(1);
    });
  },
);
