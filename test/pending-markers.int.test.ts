/**
 * Pending markers on SQLite files and PostgreSQL, with a real orchestrator and a real HTTP
 * participant (idempotentHandler): the row a saga's first step changes is skipped by a reader's
 * query while the saga runs, and seen again once the saga completes (its last step tells the
 * participant to settle) or compensates (the compensation clears it); a marker commits and rolls
 * back with the step's effect; a row held by one saga is reported to another.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import {
  createOrchestrator,
  defineSaga,
  httpCall,
  idempotentHandler,
  markPending,
  type Orchestrator,
  type Storage,
  settlePending,
  TERMINAL_SAGA_STATUSES,
  TerminalError,
} from '../packages/core/src/index.js';
import { waitFor } from '../packages/core/src/testing/wait-for.js';
import { availableBackends, type Backend, param, type TestDatabases } from './support/backends.js';

const backends = await availableBackends();

/** The profile participant: `/unsubscribe` (marks), `/resubscribe` (its compensation), `/settle`. */
async function startProfile(storage: Storage, backend: Backend): Promise<{ url: string; server: Server }> {
  const p = (i: number) => param(backend, i);
  const routes: Record<string, ReturnType<typeof idempotentHandler>> = {
    '/unsubscribe': idempotentHandler({ storage, scope: 'profile' }, async (request, tx) => {
      const { customer } = JSON.parse(request.body) as { customer: string };
      // Mark first: a row another saga holds is refused (423) before anything is changed.
      const outcome = await markPending(storage, tx, request.idempotencyKey, {
        resource: 'customer',
        key: customer,
      });
      if (outcome.kind === 'held') return { status: 423, body: { heldBy: outcome.by.sagaId } };
      await tx.execute(`UPDATE customer SET status = 'unsubscribed' WHERE id = ${p(1)}`, [customer]);
      return { status: 200, body: { customer } };
    }),
    '/resubscribe': idempotentHandler({ storage, scope: 'profile' }, async (request, tx) => {
      const { customer } = JSON.parse(request.body) as { customer: string };
      await tx.execute(`UPDATE customer SET status = 'active' WHERE id = ${p(1)}`, [customer]);
      await settlePending(storage, tx, request.idempotencyKey);
      return { status: 200, body: { customer } };
    }),
    '/settle': idempotentHandler({ storage, scope: 'profile' }, async (request, tx) => {
      await settlePending(storage, tx, request.idempotencyKey);
      return { status: 204 };
    }),
  };
  const server = createServer((req, res) => {
    const route = routes[req.url ?? ''];
    if (route === undefined) res.writeHead(404).end();
    else route(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

/** A gate the billing step waits on, so the test can look while the saga is half done. */
function gate() {
  let open: (outcome: 'charge' | 'refuse') => void = () => undefined;
  const opened = new Promise<'charge' | 'refuse'>((resolve) => {
    open = resolve;
  });
  return { opened, open: (outcome: 'charge' | 'refuse') => open(outcome) };
}

describe.each(backends)('pending markers on $name', (backend) => {
  let databases: TestDatabases | null = null;
  const cleanups: (() => Promise<void>)[] = [];

  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
    await databases?.cleanup();
    databases = null;
  });

  async function setup() {
    databases = (await backend.create())!;
    const profileDb = await databases.open('profile');
    await profileDb.transaction(async (tx) => {
      await tx.execute('CREATE TABLE customer (id TEXT PRIMARY KEY, status TEXT NOT NULL)');
      await tx.execute(`INSERT INTO customer (id, status) VALUES ('c-1', 'active'), ('c-2', 'active')`);
    });
    const profile = await startProfile(profileDb, backend);
    cleanups.push(() => new Promise((resolve) => profile.server.close(() => resolve())));
    const billing = gate();
    const saga = defineSaga('unsubscribe', 1)
      .input<{ customer: string }>()
      .step('profile', {
        action: httpCall({ url: `${profile.url}/unsubscribe`, body: (c) => c.input }),
        compensate: httpCall({ url: `${profile.url}/resubscribe`, body: (c) => c.input }),
      })
      .step('billing', {
        action: async () => {
          if ((await billing.opened) === 'refuse') throw new TerminalError('card declined');
          return { charged: true };
        },
        timeoutMs: 60_000,
      })
      .step('settle', { action: httpCall({ url: `${profile.url}/settle` }), retry: { maxAttempts: 20 } })
      .build();
    const orchestration = await databases.open('orchestrator');
    const orchestrator: Orchestrator = createOrchestrator({
      storage: orchestration,
      definitions: [saga],
      pollIntervalMs: 50,
    });
    await orchestrator.start();
    cleanups.push(() => orchestrator.stop());

    /** What a reader that must not act on half-done data sees: ids and statuses, pending rows skipped. */
    const settledCustomers = async () => {
      const pending = profileDb.pendingMarkers.skipPending({
        resource: 'customer',
        keyColumn: 'id',
        table: 'c',
      });
      return profileDb.transaction((tx) =>
        tx.query<{ id: string; status: string }>(
          `SELECT c.id, c.status FROM customer c WHERE ${pending.sql} ORDER BY c.id`,
          pending.params,
        ),
      );
    };
    const finished = (sagaId: string) =>
      waitFor('the saga to end', async () => {
        const record = await orchestration.sagas.get(sagaId);
        return record !== undefined && TERMINAL_SAGA_STATUSES.has(record.status) ? record : null;
      });
    return { profileDb, orchestrator, billing, settledCustomers, finished };
  }

  it('skips the row step 1 changed until the saga completes and its last step settles it', async () => {
    const { profileDb, orchestrator, billing, settledCustomers, finished } = await setup();
    const { sagaId } = await orchestrator.startSaga('unsubscribe', { customer: 'c-1' });
    await waitFor('step 1 to mark c-1', () =>
      profileDb.pendingMarkers.get({ resource: 'customer', key: 'c-1' }),
    );

    expect(await settledCustomers()).toEqual([{ id: 'c-2', status: 'active' }]);
    expect(await profileDb.pendingMarkers.get({ resource: 'customer', key: 'c-1' })).toMatchObject({
      sagaId,
      step: 'profile',
    });

    billing.open('charge');
    expect((await finished(sagaId))!.status).toBe('completed');
    expect(await settledCustomers()).toEqual([
      { id: 'c-1', status: 'unsubscribed' },
      { id: 'c-2', status: 'active' },
    ]);
  });

  it('shows the row again, as it was, once the compensation has cleared the marker', async () => {
    const { profileDb, orchestrator, billing, settledCustomers, finished } = await setup();
    const { sagaId } = await orchestrator.startSaga('unsubscribe', { customer: 'c-1' });
    await waitFor('step 1 to mark c-1', () =>
      profileDb.pendingMarkers.get({ resource: 'customer', key: 'c-1' }),
    );
    expect(await settledCustomers()).toEqual([{ id: 'c-2', status: 'active' }]);

    billing.open('refuse');
    expect((await finished(sagaId))!.status).toBe('compensated');
    expect(await settledCustomers()).toEqual([
      { id: 'c-1', status: 'active' },
      { id: 'c-2', status: 'active' },
    ]);
    expect(await profileDb.pendingMarkers.get({ resource: 'customer', key: 'c-1' })).toBeUndefined();
  });

  it('tells a second saga that the row is held, until the first settles', async () => {
    const { profileDb, orchestrator, billing, finished } = await setup();
    const first = await orchestrator.startSaga('unsubscribe', { customer: 'c-1' });
    await waitFor('step 1 to mark c-1', () =>
      profileDb.pendingMarkers.get({ resource: 'customer', key: 'c-1' }),
    );
    const second = await orchestrator.startSaga('unsubscribe', { customer: 'c-1' });
    // The participant answers 423 (held): a refusal, so the second saga ends compensated at once.
    const secondRecord = await finished(second.sagaId);
    expect(secondRecord!.status).toBe('compensated');
    expect(await profileDb.pendingMarkers.get({ resource: 'customer', key: 'c-1' })).toMatchObject({
      sagaId: first.sagaId,
    });
    billing.open('charge');
    expect((await finished(first.sagaId))!.status).toBe('completed');
  });

  it('writes a marker only with its transaction: a rollback leaves none; clearKey removes only the holder’s', async () => {
    const { profileDb } = await setup();
    const mark = { resource: 'customer', key: 'c-2', sagaId: 'saga-a', step: 'profile' };
    await expect(
      profileDb.transaction(async (tx) => {
        await profileDb.pendingMarkers.mark(tx, mark, new Date());
        expect(await profileDb.pendingMarkers.get(mark, tx)).toMatchObject({ sagaId: 'saga-a' });
        throw new Error('the step failed after marking');
      }),
    ).rejects.toThrow('the step failed after marking');
    expect(await profileDb.pendingMarkers.get(mark)).toBeUndefined();

    await profileDb.transaction((tx) => profileDb.pendingMarkers.mark(tx, mark, new Date()));
    const again = await profileDb.transaction((tx) => profileDb.pendingMarkers.mark(tx, mark, new Date()));
    expect(again).toEqual({ kind: 'marked' });
    const removed = await profileDb.transaction(async (tx) => [
      await profileDb.pendingMarkers.clearKey(tx, { ...mark, sagaId: 'saga-b' }),
      await profileDb.pendingMarkers.clearKey(tx, mark),
    ]);
    expect(removed).toEqual([0, 1]);
  });

  it('refuses a key column that is not a plain identifier, binding the resource as a value', async () => {
    const { profileDb } = await setup();
    expect(() =>
      profileDb.pendingMarkers.skipPending({ resource: 'customer', keyColumn: 'id; DROP TABLE customer' }),
    ).toThrow(/IDENTIFIER|identifier|letters/);
    const odd = profileDb.pendingMarkers.skipPending({ resource: "cust'omer", keyColumn: 'id' });
    expect(odd.params).toEqual(["cust'omer"]);
    expect(odd.sql).not.toContain("cust'omer");
  });
});
