/**
 * Starting sagas through the requester's outbox, on SQLite files and PostgreSQL with the SQL-log
 * transport on the orchestrator's database: while that database is unreachable from the requester
 * (its publishes fail) and the orchestrator is not even running, the start requests wait in the
 * requester's outbox; once both are back every requested saga starts exactly once (a repeated
 * idempotency key finds the first saga), none is lost, and a request that can never start is a
 * dead letter that says why.
 */
import { afterEach, describe, expect, it } from 'vitest';
import {
  type Consumer,
  createInbox,
  createOrchestrator,
  createOutbox,
  createRelay,
  createSqlLogTransport,
  defineSaga,
  type Orchestrator,
  type Relay,
  SAGA_START_REQUESTED,
  type SagaRecord,
  type Storage,
  sagaStartHandler,
  sagaStartRequest,
  TERMINAL_SAGA_STATUSES,
  type Transport,
} from '../packages/core/src/index.js';
import { waitFor } from '../packages/core/src/testing/wait-for.js';
import { availableBackends, type TestDatabases } from './support/backends.js';

const backends = await availableBackends();

/** The SQL log on the orchestrator's database, as seen from the requester: it can be cut off. */
function reachableWhile(inner: Transport): Transport & { down: boolean; failedPublishes: number } {
  const transport = {
    down: true,
    failedPublishes: 0,
    capabilities: inner.capabilities,
    description: inner.description,
    async publish(messages: Parameters<Transport['publish']>[0]) {
      if (transport.down) {
        transport.failedPublishes += 1;
        throw Object.assign(new Error('connect ECONNREFUSED (the orchestrator database is unreachable)'), {
          code: 'ECONNREFUSED',
        });
      }
      await inner.publish(messages);
    },
    subscribe: inner.subscribe.bind(inner),
    close: async () => {},
  };
  return transport;
}

const onboarding = defineSaga('onboarding', 1)
  .input<{ user: string }>((input) => {
    if (typeof (input as { user?: unknown })?.user !== 'string') throw new Error("'user' must be a string");
    return input as { user: string };
  })
  .step('welcome', { action: (c) => ({ welcomed: c.input.user }) })
  .build();

describe.each(backends)('saga start requests on $name', (backend) => {
  let databases: TestDatabases | null = null;
  const stops: (() => Promise<void>)[] = [];

  afterEach(async () => {
    for (const stop of stops.splice(0).reverse()) await stop();
    await databases?.cleanup();
    databases = null;
  });

  async function setup() {
    databases = (await backend.create())!;
    const requester = await databases.open('signup');
    const orchestration = await databases.open('orchestrator');
    const log = createSqlLogTransport({ storage: orchestration, pollIntervalMs: 50 });
    stops.push(() => log.close());
    return { requester, orchestration, log };
  }

  async function request(storage: Storage, drafts: Parameters<typeof sagaStartRequest>[0][]) {
    const outbox = createOutbox({ storage, source: 'signup' });
    for (const draft of drafts) {
      await storage.transaction(async (tx) => {
        await outbox.append(tx, [sagaStartRequest(draft)]);
      });
    }
  }

  it('keeps start requests in the outbox while the orchestrator is unreachable, then starts each saga exactly once; bad ones are dead letters with their reason', async () => {
    const { requester, orchestration, log } = await setup();
    const linkToOrchestrator = reachableWhile(log);
    const relay: Relay = createRelay({
      storage: requester,
      transport: linkToOrchestrator,
      pollIntervalMs: 50,
      initialBackoffMs: 20,
      maxBackoffMs: 100,
    });
    await relay.start();
    stops.push(() => relay.stop());

    const users = ['ada', 'grace', 'edsger', 'barbara'];
    await request(requester, [
      ...users.map((user) => ({ saga: 'onboarding', input: { user }, idempotencyKey: `signup-${user}` })),
      // The requester retried its business operation: same key, one saga.
      { saga: 'onboarding', input: { user: 'ada' }, idempotencyKey: 'signup-ada' },
      { saga: 'offboarding', input: { user: 'alan' }, idempotencyKey: 'signup-alan' },
      { saga: 'onboarding', input: { name: 'no user field' }, idempotencyKey: 'signup-broken' },
    ]);

    await waitFor('the relay to try and fail to publish', () => linkToOrchestrator.failedPublishes >= 2);
    expect((await requester.outbox.status()).backlog).toBe(7);

    // The link comes back while the orchestrator is still down: the requests reach the log only.
    linkToOrchestrator.down = false;
    await waitFor('the outbox to drain', async () => (await requester.outbox.status()).backlog === 0);
    expect(await orchestration.sagas.list({})).toEqual([]);

    const orchestrator: Orchestrator = createOrchestrator({
      storage: orchestration,
      definitions: [onboarding],
      pollIntervalMs: 50,
    });
    await orchestrator.start();
    stops.push(() => orchestrator.stop());
    const consumer: Consumer = await createInbox({ storage: orchestration, transport: log }).subscribe(
      { consumer: 'saga-starts', types: [SAGA_START_REQUESTED], retryPollIntervalMs: 50 },
      sagaStartHandler(orchestrator),
    );
    stops.push(() => consumer.stop());

    const sagas = await waitFor<SagaRecord[] | null>('four sagas to complete', async () => {
      const all = await orchestration.sagas.list({});
      return all.length === users.length && all.every((s) => TERMINAL_SAGA_STATUSES.has(s.status))
        ? all
        : null;
    });
    const byKey = (records: SagaRecord[]) =>
      records.map((s) => [s.idempotencyKey, s.status, (s.input as { user: string }).user]).sort();
    expect(byKey(sagas!)).toEqual(users.map((user) => [`signup-${user}`, 'completed', user]).sort());

    const letters = await waitFor('two dead letters', async () => {
      const all = await orchestration.inbox.listDeadLetters('saga-starts');
      return all.length === 2 ? all : null;
    });
    const reasons = letters!.map((l) => [l.key, l.reason, l.errorMessage]).sort();
    expect(reasons[0]).toEqual([
      'signup-alan',
      'HANDLER_TERMINAL_ERROR',
      expect.stringMatching(/No saga named 'offboarding' is registered .*pass its definition/),
    ]);
    expect(reasons[1]).toEqual([
      'signup-broken',
      'HANDLER_TERMINAL_ERROR',
      expect.stringMatching(
        /Saga 'onboarding' version 1: the input is not valid \('user' must be a string\)/,
      ),
    ]);
    // Nothing started for them, and nothing twice for the others.
    expect(await orchestration.sagas.list({})).toHaveLength(users.length);
  });

  it('starts nothing twice when the same request is delivered again', async () => {
    const { orchestration } = await setup();
    const orchestrator = createOrchestrator({ storage: orchestration, definitions: [onboarding] });
    const handler = sagaStartHandler(orchestrator);
    const outbox = createOutbox({ storage: orchestration, source: 'signup' });
    const [envelope] = await orchestration.transaction((tx) =>
      outbox.append(tx, [
        sagaStartRequest({ saga: 'onboarding', input: { user: 'ada' }, idempotencyKey: 'k-1' }),
      ]),
    );
    await orchestration.transaction((tx) => handler(envelope!, tx));
    await orchestration.transaction((tx) => handler(envelope!, tx));
    expect((await orchestration.sagas.list({})).map((s) => s.idempotencyKey)).toEqual(['k-1']);
    // A handler whose transaction rolls back leaves no saga.
    const [other] = await orchestration.transaction((tx) =>
      outbox.append(tx, [
        sagaStartRequest({ saga: 'onboarding', input: { user: 'bo' }, idempotencyKey: 'k-2' }),
      ]),
    );
    await expect(
      orchestration.transaction(async (tx) => {
        await handler(other!, tx);
        throw new Error('the inbox transaction failed after the start');
      }),
    ).rejects.toThrow('failed after the start');
    expect((await orchestration.sagas.list({})).map((s) => s.idempotencyKey)).toEqual(['k-1']);
  });
});
