/**
 * The saga orchestrator against real databases (SQLite files, PostgreSQL) and real HTTP
 * participants on 127.0.0.1, each participant idempotent through `idempotentHandler` and keeping
 * its effects in its own database: what a saga's user relies on — it ends completed or
 * compensated, each effect applied once, compensations in reverse order — through failures,
 * retries, timeouts, repeated starts, a second orchestrator instance and an unregistered version.
 */
import { afterEach, describe, expect, it } from 'vitest';
import {
  createOrchestrator,
  FaultPoint,
  type Orchestrator,
  type SagaStore,
  type SagaWrite,
  type Storage,
  silentLogger,
  TERMINAL_SAGA_STATUSES,
} from '../packages/core/src/index.js';
import { waitFor } from '../packages/core/src/testing/wait-for.js';
import { availableBackends } from './support/backends.js';
import { createSagaTestbed, expectEffectsOnce, type SagaTestbed } from './support/saga-testbed.js';

const backends = await availableBackends();

/**
 * `storage` with its saga writes seen: the transitions of each accepted `record` (one durable
 * write each), and the sagas given up by a `release` of their own.
 */
function observeWrites(storage: Storage) {
  const records: string[][] = [];
  const releases: string[] = [];
  const label = (write: SagaWrite) => `${write.transition.kind} ${write.transition.step}`;
  const sagas = new Proxy<SagaStore>(storage.sagas, {
    get(target, property) {
      if (property === 'record') {
        return async (...args: Parameters<SagaStore['record']>) => {
          const outcome = await target.record(...args);
          const write = args[2];
          if (outcome === 'recorded') records.push('status' in write ? [label(write)] : write.map(label));
          return outcome;
        };
      }
      if (property === 'release') {
        return (id: string, fencingToken: number) => {
          releases.push(id);
          return target.release(id, fencingToken);
        };
      }
      const value: unknown = Reflect.get(target, property);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
  return { storage: { ...storage, sagas }, records, releases };
}

describe.each(backends)('saga orchestrator on $name', (backend) => {
  let bed: SagaTestbed | null = null;
  const orchestrators: Orchestrator[] = [];

  afterEach(async () => {
    for (const orchestrator of orchestrators.splice(0)) await orchestrator.stop();
    await bed?.close();
    bed = null;
  });

  async function setup() {
    bed = await createSagaTestbed(backend);
    return bed;
  }

  function orchestrator(
    testbed: SagaTestbed,
    options: Partial<Parameters<typeof createOrchestrator>[0]> = {},
  ) {
    const made = createOrchestrator({
      storage: testbed.storage,
      definitions: [testbed.saga()],
      leaseMs: 2_000,
      pollIntervalMs: 50,
      ...options,
    });
    orchestrators.push(made);
    return made;
  }

  it('runs a 3-step saga to completed, each effect once, one logged transition per start and result, a result and the next start in one write', async () => {
    const testbed = await setup();
    const saga = testbed.saga();
    const seen = observeWrites(testbed.storage);
    const running = orchestrator(testbed, { definitions: [saga], storage: seen.storage });
    await running.start();
    const { sagaId, created } = await running.startSaga(saga, { customer: 'c-1' });
    expect(created).toBe(true);
    const [record] = await testbed.settled([sagaId]);
    expect(record!.status).toBe('completed');
    expectEffectsOnce(await testbed.effects(), [record!]);
    const log = await testbed.storage.sagas.transitions(sagaId);
    expect(log.map((t) => `${t.kind}${t.step ? ` ${t.step}` : ''}`)).toEqual([
      'started',
      'step-started profile',
      'step-succeeded profile',
      'step-started contract',
      'step-succeeded contract',
      'step-started billing',
      'step-succeeded billing',
    ]);
    expect((await testbed.effects()).map((e) => e.key)).toEqual(
      ['profile', 'contract', 'billing'].map((step) => `${sagaId}:${step}`),
    );
    // The start recorded the first step's start (held by this instance); three more durable
    // writes; the completion gave the lease up in its own write.
    expect(seen.records).toEqual([
      ['step-succeeded profile', 'step-started contract'],
      ['step-succeeded contract', 'step-started billing'],
      ['step-succeeded billing'],
    ]);
    expect(seen.releases).toEqual([]);
    expect(record).toMatchObject({ leaseOwner: null, leaseExpiresAt: null });
  });

  it('compensates contract then profile when billing refuses; billing is neither applied nor undone', async () => {
    const testbed = await setup();
    const seen = observeWrites(testbed.storage);
    const running = orchestrator(testbed, { storage: seen.storage });
    await running.start();
    const { sagaId } = await running.startSaga('three-step', {
      customer: 'c-2',
      script: { billing: 'refuse' },
    });
    const [record] = await testbed.settled([sagaId]);
    expect(record!.status).toBe('compensated');
    const effects = await testbed.effects();
    expect(effects.map((e) => `${e.kind} ${e.step}`)).toEqual([
      'apply profile',
      'apply contract',
      'undo contract',
      'undo profile',
    ]);
    expect(effects.find((e) => e.kind === 'undo')?.key).toBe(`${sagaId}:contract:compensate`);
    expectEffectsOnce(effects, [record!]);
    // Each result is recorded with the compensation it makes due (the first start, with the saga's).
    expect(seen.records).toEqual([
      ['step-succeeded profile', 'step-started contract'],
      ['step-succeeded contract', 'step-started billing'],
      ['step-failed billing', 'compensation-started contract'],
      ['compensation-succeeded contract', 'compensation-started profile'],
      ['compensation-succeeded profile'],
    ]);
    expect(seen.releases).toEqual([]);
  });

  it('retries a step that fails with 503 and completes, the effect applied once', async () => {
    const testbed = await setup();
    const running = orchestrator(testbed);
    await running.start();
    const { sagaId } = await running.startSaga('three-step', {
      customer: 'c-3',
      script: { contract: { fail: 2 } },
    });
    const [record] = await testbed.settled([sagaId]);
    expect(record!.status).toBe('completed');
    expectEffectsOnce(await testbed.effects(), [record!]);
    const failed = (await testbed.storage.sagas.transitions(sagaId)).filter((t) => t.kind === 'step-failed');
    expect(failed.map((t) => [t.step, t.attempt])).toEqual([
      ['contract', 1],
      ['contract', 2],
    ]);
  });

  it('times a hanging call out, retries it, and when every attempt times out undoes that step too, then the earlier one', async () => {
    const testbed = await setup();
    const saga = testbed.saga({ timeoutMs: 2_000, maxAttempts: 2 });
    const running = orchestrator(testbed, { definitions: [saga] });
    await running.start();
    // One after the other: a hanging call holds the participant's transaction, and on SQLite (one
    // writer) the other saga's retry would queue behind it and time out as well.
    const once = await running.startSaga(saga, { customer: 'c-4', script: { contract: { hang: 1 } } });
    const [recovered] = await testbed.settled([once.sagaId]);
    const always = await running.startSaga(saga, { customer: 'c-5', script: { contract: { hang: 9 } } });
    const [gaveUp] = await testbed.settled([always.sagaId]);
    expect(recovered!.status).toBe('completed');
    const timedOut = (await testbed.storage.sagas.transitions(once.sagaId)).filter(
      (t) => t.kind === 'step-timed-out' && t.step === 'contract',
    );
    expect(timedOut.map((t) => [t.step, t.attempt])).toEqual([['contract', 1]]);
    // The participant may have applied a timed-out call: its compensation runs (a no-op here).
    expect(gaveUp!.status).toBe('compensated');
    const effects = await testbed.effects();
    expect(effects.filter((e) => e.sagaId === always.sagaId).map((e) => `${e.kind} ${e.step}`)).toEqual([
      'apply profile',
      'undo contract',
      'undo profile',
    ]);
    expectEffectsOnce(effects, [recovered!, gaveUp!]);
  });

  it('returns the existing saga for a repeated idempotency key, and refuses bad input recording nothing', async () => {
    const testbed = await setup();
    const running = orchestrator(testbed);
    const first = await running.startSaga('three-step', { customer: 'c-6' }, { idempotencyKey: 'request-6' });
    const again = await running.startSaga('three-step', { customer: 'c-6' }, { idempotencyKey: 'request-6' });
    expect(again).toEqual({ sagaId: first.sagaId, created: false });
    await expect(running.startSaga('three-step', { customer: 6 } as never)).rejects.toMatchObject({
      code: 'SAGA_INPUT_INVALID',
    });
    await expect(running.startSaga('no-such-saga', {})).rejects.toMatchObject({
      code: 'SAGA_DEFINITION_UNKNOWN',
    });
    // Joins the caller's transaction: a rollback leaves nothing.
    await expect(
      testbed.storage.transaction(async (tx) => {
        await running.startSaga('three-step', { customer: 'c-7' }, { tx });
        throw new Error('the caller rolls back');
      }),
    ).rejects.toThrow('the caller rolls back');
    expect((await testbed.storage.sagas.list({})).map((r) => r.id)).toEqual([first.sagaId]);
    await running.start();
    const [record] = await testbed.settled([first.sagaId]);
    expect(record!.status).toBe('completed');
    expectEffectsOnce(await testbed.effects(), [record!]);
  });

  it('leaves a version it does not register alone; listStranded names it until an orchestrator with it runs', async () => {
    const testbed = await setup();
    const v1 = testbed.saga({ version: 1 });
    const v2 = testbed.saga({ version: 2 });
    const current = orchestrator(testbed, { definitions: [v2] });
    await current.start();
    const old = await current.startSaga(v1, { customer: 'c-8' });
    const fresh = await current.startSaga(v2, { customer: 'c-9' });
    const [done] = await testbed.settled([fresh.sagaId]);
    expect(done!.status).toBe('completed');
    const aliveSince = new Date(Date.now() - 60_000);
    expect((await testbed.storage.sagas.listStranded(aliveSince, 10)).map((r) => r.id)).toEqual([old.sagaId]);
    expect((await testbed.storage.sagas.get(old.sagaId))?.transitions).toBe(1);

    const legacy = orchestrator(testbed, { definitions: [v1] });
    await legacy.start();
    const [finished] = await testbed.settled([old.sagaId]);
    expect(finished!.status).toBe('completed');
    expect(await testbed.storage.sagas.listStranded(aliveSince, 10)).toEqual([]);
    expectEffectsOnce(await testbed.effects(), [done!, finished!]);
  });

  it('deletes the heartbeat rows of orchestrators stopped or silent for longer than heartbeatRetentionMs as it beats', async () => {
    const testbed = await setup();
    const { sagas } = testbed.storage;
    const day = 24 * 3_600_000;
    const beat = (
      orchestratorId: string,
      at: Date,
      stopped: boolean,
      prune?: { silentBefore: Date; limit: number },
    ) =>
      sagas.heartbeatOrchestrator(
        { orchestratorId, host: 'old-host', pid: null, definitions: {}, at, stoppedAt: stopped ? at : null },
        prune,
      );
    const ago = (ms: number) => new Date(Date.now() - ms);
    await beat('stopped-8-days-ago', ago(8 * day), true);
    await beat('silent-8-days-ago', ago(8 * day), false);
    await beat('stopped-yesterday', ago(day), true);
    const running = orchestrator(testbed);
    await running.start();
    // What is left, asked of the store: a probe's heartbeat that deletes every other row.
    const left = await beat('probe', new Date(), true, {
      silentBefore: new Date(Date.now() + day),
      limit: 100,
    });
    expect(left.sort()).toEqual([running.orchestratorId, 'stopped-yesterday'].sort());

    const tooShort = { heartbeatIntervalMs: 1_000, heartbeatRetentionMs: 2_999 };
    expect(() => createOrchestrator({ storage: testbed.storage, definitions: [], ...tooShort })).toThrow(
      /heartbeatRetentionMs.*at least three heartbeat intervals \(3000 ms\)/,
    );
  });

  it('gives up exactly the saga another holder takes (an operator here), aborting its call and writing nothing more; keeps renewing the others', async () => {
    const testbed = await setup();
    // A hanging first attempt lasts its timeout, more than three leases: only renewals keep the saga.
    const saga = testbed.saga({ timeoutMs: 3_000 });
    const warnings: string[] = [];
    const logger = { ...silentLogger, warn: (_: unknown, message: string) => void warnings.push(message) };
    const running = orchestrator(testbed, { definitions: [saga], leaseMs: 900, logger });
    await running.start();
    const script = { contract: { hang: 1 } } as const;
    const { sagaId } = await running.startSaga(saga, { customer: 'c-10', script });
    const { sagaId: keptId } = await running.startSaga(saga, { customer: 'c-11', script });
    const { sagas } = testbed.storage;
    const inFlight = await waitFor('the contract call to be in flight', async () => {
      const record = await sagas.get(sagaId);
      const log = await sagas.transitions(sagaId);
      return log.at(-1)?.kind === 'step-started' && log.at(-1)?.step === 'contract' ? record : null;
    });
    // An operator cancels it: intervene takes the token over, as another instance's claim would.
    const cancelled = await sagas.intervene(sagaId, {
      status: 'failed',
      snapshot: inFlight!.snapshot,
      wakeAt: null,
      reason: 'cancelled by the test',
      at: new Date(),
      transition: { kind: 'cancel', step: null, attempt: null, detail: { actor: 'test', reason: 'stop it' } },
    });
    if (cancelled === undefined || cancelled === 'changed') throw new Error('the cancel was not recorded');
    const seq = cancelled.transitions;
    // Its next lease renewal is refused: the orchestrator gives the saga up and aborts the call.
    await waitFor('the orchestrator to give the saga up', () =>
      warnings.some((w) => w.includes(sagaId) && w.includes('another orchestrator holds it now')),
    );
    const [kept] = await testbed.settled([keptId]);
    await running.stop();
    const log = await sagas.transitions(sagaId);
    expect(log.at(-1)).toMatchObject({ seq, kind: 'cancel' });
    // The other saga was held throughout: never claimed again, nothing re-issued, never given up.
    expect(kept).toMatchObject({ status: 'completed', fencingToken: 1 });
    const keptLog = await sagas.transitions(keptId);
    expect(keptLog.filter((t) => (t.detail as { reissue?: boolean } | null)?.reissue === true)).toEqual([]);
    expect(warnings.filter((w) => w.includes(keptId))).toEqual([]);
    const effects = (await testbed.effects()).filter((e) => e.sagaId === sagaId);
    expect(effects.map((e) => `${e.kind} ${e.step}`)).toEqual(['apply profile']);
  });

  it('one orchestrator stops gracefully mid-run and the other finishes every saga, each effect once', async () => {
    const testbed = await setup();
    const first = orchestrator(testbed, { concurrency: 4 });
    const second = orchestrator(testbed, { concurrency: 4 });
    await first.start();
    // Every billing call fails twice first, so sagas are mid-run when `first` stops.
    const ids: string[] = [];
    for (let i = 0; i < 12; i += 1) {
      const script = { billing: { fail: 2 } } as const;
      ids.push((await first.startSaga('three-step', { customer: `c-${i}`, script })).sagaId);
    }
    await testbed.settled(ids.slice(0, 1)).catch(() => undefined);
    await first.stop();
    const records = await Promise.all(ids.map((id) => testbed.storage.sagas.get(id)));
    // Stopping released every lease it held.
    expect(records.filter((r) => r?.leaseOwner === first.orchestratorId)).toEqual([]);
    await second.start();
    const settled = await testbed.settled(ids, 60_000);
    expect(settled.every((r) => r.status === 'completed')).toBe(true);
    expectEffectsOnce(await testbed.effects(), settled);
  });

  it('holds a saga it starts from the start write, its first step started; when it fails before the call, another instance takes it over once the lease expires and re-issues it', async () => {
    const testbed = await setup();
    let failures = 0;
    const fail = (point: FaultPoint) => {
      if (point === FaultPoint.SAGA_AFTER_STEP_STARTED && failures++ === 0) throw new Error('injected');
    };
    const starter = orchestrator(testbed, { faults: { reach: fail }, logger: silentLogger });
    const other = orchestrator(testbed);
    await Promise.all([starter.start(), other.start()]);
    const { sagaId } = await starter.startSaga('three-step', { customer: 'c-held' });
    const [record] = await testbed.settled([sagaId], 60_000);
    expect(record!.status).toBe('completed');
    expectEffectsOnce(await testbed.effects(), [record!]);
    // Token 1 was the start's own lease; the step was re-issued under a later claim's.
    const [started, held, reissued] = await testbed.storage.sagas.transitions(sagaId);
    expect([started, held]).toMatchObject([
      { kind: 'started', seq: 1 },
      { kind: 'step-started', step: 'profile', seq: 2, fencingToken: 1 },
    ]);
    expect(reissued).toMatchObject({ kind: 'step-started', step: 'profile', seq: 3 });
    expect(reissued!.fencingToken).toBeGreaterThan(1);
  });
});

const postgres = backends.find((b) => b.name === 'postgres');

describe.runIf(postgres !== undefined)('two saga orchestrators on one PostgreSQL database', () => {
  let bed: SagaTestbed | null = null;
  const orchestrators: Orchestrator[] = [];

  afterEach(async () => {
    for (const orchestrator of orchestrators.splice(0)) await orchestrator.stop();
    await bed?.close();
  });

  it('wake at once for a saga another process started, without waiting for their poll interval', async () => {
    bed = await createSagaTestbed(postgres!);
    const testbed = bed;
    const sleeper = createOrchestrator({
      storage: testbed.storage,
      definitions: [testbed.saga()],
      pollIntervalMs: 600_000,
    });
    orchestrators.push(sleeper);
    await sleeper.start();
    // Another service's connection, in its own transaction: the saga exists once that commits.
    const elsewhere = await testbed.databases.open('orchestrator');
    const starter = createOrchestrator({ storage: elsewhere, definitions: [testbed.saga()] });
    const { sagaId } = await elsewhere.transaction((tx) =>
      starter.startSaga('three-step', { customer: 'c-n' }, { tx }),
    );
    const [record] = await testbed.settled([sagaId], 60_000);
    expect(record!.status).toBe('completed');
  });

  it('run 200 sagas between them: never one saga in both at once, each effect once, every saga final', async () => {
    bed = await createSagaTestbed(postgres!);
    const testbed = bed;
    // Each instance counts the calls it started (its fault hook is reached once per step start).
    const started = [0, 0];
    for (let i = 0; i < 2; i += 1) {
      orchestrators.push(
        createOrchestrator({
          storage: testbed.storage,
          definitions: [testbed.saga()],
          orchestratorId: `instance-${i}`,
          leaseMs: 3_000,
          pollIntervalMs: 20,
          concurrency: 20,
          faults: { reach: (point) => void (point === FaultPoint.SAGA_AFTER_STEP_STARTED && started[i]!++) },
        }),
      );
    }
    const ids: string[] = [];
    for (let i = 0; i < 200; i += 1) {
      const script =
        i % 10 === 0 ? { billing: 'refuse' as const } : i % 7 === 0 ? { profile: { fail: 1 } } : {};
      ids.push((await orchestrators[i % 2]!.startSaga('three-step', { customer: `c-${i}`, script })).sagaId);
    }
    await Promise.all(orchestrators.map((o) => o.start()));
    const records = await testbed.settled(ids, 120_000);
    expect(records.every((r) => TERMINAL_SAGA_STATUSES.has(r.status))).toBe(true);
    expect(records.filter((r) => r.status === 'compensated')).toHaveLength(20);
    expectEffectsOnce(await testbed.effects(), records);
    for (const id of ids) {
      const log = await testbed.storage.sagas.transitions(id);
      // One holder at a time: a later transition never carries an older token than an earlier one.
      const tokens = log.map((t) => t.fencingToken);
      expect(tokens).toEqual([...tokens].sort((a, b) => a - b));
    }
    // Both instances did part of the work.
    expect(started.every((n) => n > 0)).toBe(true);
    expect(started[0]! + started[1]!).toBeGreaterThanOrEqual(200 * 3 - 20);
  }, 180_000);
});
