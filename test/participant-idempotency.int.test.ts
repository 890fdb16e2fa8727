/**
 * The participant helper's promises, over real HTTP on 127.0.0.1 and a real database, for the
 * node:http handler and the Hono middleware on each backend: a repeated Idempotency-Key gets the
 * identical stored response and the effect exists once; the same key with another body is refused
 * (422) with no effect; concurrent duplicates make one effect and all get the same answer; a
 * handler that throws or answers 5xx leaves nothing, so the retry runs it; a 4xx is stored; without
 * a key every request runs; a client that disconnects leaves the effect and its key together or
 * neither.
 */
import { request as httpRequest } from 'node:http';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { pruneIdempotencyKeys, type Storage } from '../packages/core/src/index.js';
import { waitFor } from '../packages/core/src/testing/wait-for.js';
import { availableBackends, param, type TestDatabases } from './support/backends.js';
import {
  type ChargeProbe,
  createChargeTable,
  type ParticipantOptions,
  participantKinds,
  type RunningParticipant,
} from './support/participant-app.js';

const backends = await availableBackends();
const matrix = backends.flatMap((backend) => participantKinds.map((kind) => ({ backend, kind })));
const BODY = { customer: 'c-1', cents: 500 };

describe.each(matrix)('participant idempotency: $kind.name on $backend.name', ({ backend, kind }) => {
  let databases: TestDatabases;
  let storage: Storage;
  let probe: ChargeProbe;
  const running: RunningParticipant[] = [];

  const start = async (options?: ParticipantOptions) => {
    const participant = await kind.start(storage, backend, probe, options);
    running.push(participant);
    return participant;
  };
  const post = (url: string, key: string | undefined, body: unknown = BODY) =>
    fetch(url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        ...(key === undefined ? {} : { 'idempotency-key': key }),
      },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });
  const count = async (sql: string, params: unknown[] = []) => {
    const [row] = await storage.transaction((tx) => tx.query<{ n: number | string }>(sql, params));
    return Number(row?.n);
  };
  const effects = (note?: string) =>
    note === undefined
      ? count('SELECT count(*) AS n FROM charge')
      : count(`SELECT count(*) AS n FROM charge WHERE note = ${param(backend, 1)}`, [note]);
  const keyTable = backend.name === 'postgres' ? 'converge.idempotency_key' : 'converge_idempotency_key';
  const keys = () => count(`SELECT count(*) AS n FROM ${keyTable}`);

  beforeAll(async () => {
    databases = (await backend.create())!;
    storage = await databases.open('billing');
    await createChargeTable(storage);
  });
  afterAll(async () => {
    await databases.cleanup();
  });
  beforeEach(async () => {
    probe = { calls: 0 };
    await storage.transaction(async (tx) => {
      await tx.execute('DELETE FROM charge');
      await tx.execute(`DELETE FROM ${keyTable}`);
    });
  });
  afterEach(async () => {
    for (const participant of running.splice(0)) await participant.close();
  });

  it('a repeated key gets the identical stored response, and the effect exists once', async () => {
    const { url } = await start();
    const first = await post(url, 'saga-1:charge');
    const again = await post(url, 'saga-1:charge', { cents: 500, customer: 'c-1' });
    expect(first.status).toBe(201);
    expect(first.headers.get('idempotent-replayed')).toBeNull();
    expect(again.status).toBe(201);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(again.headers.get('content-type')).toBe(first.headers.get('content-type'));
    expect(again.headers.get('x-charge-call')).toBe('1');
    expect(await again.text()).toBe(await first.text());
    expect(probe.calls).toBe(1);
    expect(await effects('saga-1:charge')).toBe(1);
  });

  it('the same key with another body is refused with 422 naming the key, and has no effect', async () => {
    const { url } = await start();
    await post(url, 'saga-1:charge');
    const other = await post(url, 'saga-1:charge', { customer: 'c-1', cents: 900 });
    expect(other.status).toBe(422);
    expect(other.headers.get('content-type')).toBe('application/problem+json');
    expect(await other.json()).toMatchObject({ status: 422, idempotencyKey: 'saga-1:charge' });
    expect(probe.calls).toBe(1);
    expect(await effects()).toBe(1);
  });

  it('20 concurrent identical requests make one effect and all get the same response', async () => {
    const { url } = await start();
    // Widens the window in which the duplicates arrive while the first holds the key.
    probe.hold = () => new Promise((resolve) => setTimeout(resolve, 50));
    const responses = await Promise.all(Array.from({ length: 20 }, () => post(url, 'saga-2:charge')));
    const bodies = await Promise.all(responses.map((response) => response.text()));
    expect(responses.map((response) => response.status)).toEqual(Array(20).fill(201));
    expect(new Set(bodies).size).toBe(1);
    expect(responses.filter((response) => response.headers.get('idempotent-replayed') === null)).toHaveLength(
      1,
    );
    expect(probe.calls).toBe(1);
    expect(await effects('saga-2:charge')).toBe(1);
  });

  it.each([
    ['a handler that throws', 'throw', 500],
    ['a 5xx response', 'status-503', 503],
  ] as const)(
    '%s: sent without storing, effect rolled back; the retry runs once',
    async (_name, failure, status) => {
      const { url } = await start();
      probe.failNext = failure;
      const failed = await post(url, 'saga-3:charge');
      expect(failed.status).toBe(status);
      expect(await effects()).toBe(0);
      expect(await keys()).toBe(0);
      const retry = await post(url, 'saga-3:charge');
      expect(retry.status).toBe(201);
      expect(retry.headers.get('idempotent-replayed')).toBeNull();
      expect(await effects('saga-3:charge')).toBe(1);
    },
  );

  it('a 4xx response is stored: the repeat gets the same refusal without running the route', async () => {
    const { url } = await start();
    probe.failNext = 'refuse-409';
    const refused = await post(url, 'saga-5:charge');
    const again = await post(url, 'saga-5:charge');
    expect([refused.status, again.status]).toEqual([409, 409]);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(await again.text()).toBe(await refused.text());
    expect(probe.calls).toBe(1);
  });

  it('without a key every request runs (nothing recorded); with requireKey it is refused with 400', async () => {
    const open = await start();
    await post(open.url, undefined);
    await post(open.url, undefined);
    expect(await effects()).toBe(2);
    expect(await keys()).toBe(0);
    const strict = await start({ requireKey: true });
    const refused = await post(strict.url, undefined);
    expect(refused.status).toBe(400);
    expect(((await refused.json()) as { detail: string }).detail).toContain(
      'requires an Idempotency-Key header',
    );
    expect(await effects()).toBe(2);
  });

  it('refuses an invalid key (400) and an oversized body (413) before any effect', async () => {
    const { url } = await start({ maxBodyBytes: 1024 });
    const long = await post(url, 'k'.repeat(256));
    expect(long.status).toBe(400);
    expect(((await long.json()) as { detail: string }).detail).toContain('is 256 characters long');
    const accented = await post(url, 'caf\u00e9');
    expect(accented.status).toBe(400);
    expect(((await accented.json()) as { detail: string }).detail).toContain('outside printable ASCII');
    const big = await post(url, 'saga-6:charge', { ...BODY, padding: 'x'.repeat(2000) });
    expect(big.status).toBe(413);
    expect(await effects()).toBe(0);
    expect(probe.calls).toBe(0);
  });

  it('pruned keys (older than the retention) are gone: a repeat of one runs as a new request', async () => {
    const { url } = await start();
    for (const key of ['saga-10:a', 'saga-10:b', 'saga-10:c']) await post(url, key);
    const later = () => new Date(Date.now() + 60_000);
    expect(await pruneIdempotencyKeys(storage, { olderThanMs: 30_000, chunkSize: 2, now: later })).toBe(3);
    expect(await keys()).toBe(0);
    const again = await post(url, 'saga-10:a');
    expect(again.headers.get('idempotent-replayed')).toBeNull();
    expect(await effects('saga-10:a')).toBe(2);
  });

  it('a client gone before its body arrived leaves nothing; the retry runs once', async () => {
    const participant = await start();
    const { port } = new URL(participant.url);
    const body = JSON.stringify(BODY);
    const partial = httpRequest({
      host: '127.0.0.1',
      port,
      path: '/charges',
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'content-length': body.length,
        'idempotency-key': 'saga-7:charge',
      },
    });
    partial.on('error', () => {});
    partial.write(body.slice(0, 5));
    await waitFor('the server to accept the connection', () => connections(participant).then((n) => n === 1));
    partial.destroy();
    await waitFor('the server to drop the connection', () => connections(participant).then((n) => n === 0));
    expect(probe.calls).toBe(0);
    expect([await effects(), await keys()]).toEqual([0, 0]);
    expect((await post(participant.url, 'saga-7:charge')).status).toBe(201);
    expect(await effects('saga-7:charge')).toBe(1);
  });

  it('a client gone while the route runs: the effect commits with its key, and the retry replays it', async () => {
    const { url } = await start();
    let started!: () => void;
    const routeStarted = new Promise<void>((resolve) => {
      started = resolve;
    });
    let release!: () => void;
    probe.hold = () => {
      started();
      return new Promise((resolve) => {
        release = resolve;
      });
    };
    const gone = post(url, 'saga-8:charge').catch(() => 'aborted');
    await routeStarted;
    // fetch has no socket handle: close every connection from the server side instead.
    running[0]?.server.closeAllConnections();
    expect(await gone).toBe('aborted');
    release();
    await waitFor('the key to commit', async () => (await keys()) === 1);
    expect(await effects('saga-8:charge')).toBe(1);
    delete probe.hold;
    const retry = await post(url, 'saga-8:charge');
    expect(retry.status).toBe(201);
    expect(retry.headers.get('idempotent-replayed')).toBe('true');
    expect(await effects('saga-8:charge')).toBe(1);
    expect(probe.calls).toBe(1);
  });
});

function connections(participant: RunningParticipant): Promise<number> {
  return new Promise((resolve, reject) =>
    participant.server.getConnections((error, n) => (error ? reject(error) : resolve(n))),
  );
}
