/**
 * The three ways the saga benchmark runs a 3-step saga, each doing the same step work
 * (saga-participants.js), each in its own process (saga-process.js):
 *
 * - `bare`: the three participant writes one after another, nothing recorded anywhere else — the
 *   step work alone, the baseline of the per-step overhead;
 * - `dbos`: a DBOS Transact workflow whose three `DBOS.runStep`s call the write directly, with a
 *   compensation path (undo the completed steps in reverse) like the saga's;
 * - `converge`: a Converge saga (`defineSaga` + the orchestrator) whose steps are in-process
 *   actions doing the same write, each with a compensation.
 *
 * `open(config)` resolves to `{ runOne(n): Promise<void>, close(): Promise<void> }`; `runOne`
 * resolves when saga `n` has completed (its last state durably recorded).
 */
import { openParticipants, STEPS } from './saga-participants.js';

/** Retry and timeout of every step, on both engines: Converge's defaults (3 attempts, 30 s). */
export const STEP_ATTEMPTS = 3;
export const STEP_TIMEOUT_MS = 30_000;

async function openBare(config) {
  const participants = openParticipants(config.participantUrls, config.participantPoolSize);
  return {
    async runOne(n) {
      const sagaId = `bare-${process.pid}-${n}`;
      for (let i = 0; i < STEPS.length; i += 1) await participants.write(i, sagaId);
    },
    close: () => participants.close(),
  };
}

async function openDbos(config) {
  const { DBOS } = await import('@dbos-inc/dbos-sdk');
  DBOS.setConfig({
    name: 'converge_bench',
    systemDatabaseUrl: config.systemUrl,
    systemDatabasePoolSize: config.systemPoolSize,
    logLevel: 'error',
  });
  const participants = openParticipants(config.participantUrls, config.participantPoolSize);
  const stepConfig = (name) => ({
    name,
    retriesAllowed: true,
    maxAttempts: STEP_ATTEMPTS,
    intervalSeconds: 1,
    timeoutMS: STEP_TIMEOUT_MS,
  });
  async function threeSteps() {
    const sagaId = DBOS.workflowID;
    const done = [];
    try {
      for (let i = 0; i < STEPS.length; i += 1) {
        await DBOS.runStep(async () => {
          await participants.write(i, sagaId);
        }, stepConfig(STEPS[i]));
        done.push(i);
      }
    } catch (error) {
      for (const i of done.reverse()) {
        await DBOS.runStep(
          async () => {
            await participants.undo(i, sagaId);
          },
          stepConfig(`undo-${STEPS[i]}`),
        );
      }
      throw error;
    }
  }
  const workflow = DBOS.registerWorkflow(threeSteps, { name: 'threeSteps' });
  await DBOS.launch();
  return {
    runOne: () => workflow(),
    async close() {
      await DBOS.shutdown();
      await participants.close();
    },
  };
}

async function openConverge(config) {
  const { createOrchestrator, defineSaga, TERMINAL_SAGA_STATUSES } = await import('@converge/core');
  const { createPostgresStorage } = await import('@converge/core/postgres');
  const storage = createPostgresStorage({
    connectionString: config.systemUrl,
    max: config.systemPoolSize,
    applicationName: 'converge-bench-sagas',
  });
  await storage.migrate();
  const participants = openParticipants(config.participantUrls, config.participantPoolSize);
  let builder = defineSaga('three-steps', 1);
  STEPS.forEach((step, i) => {
    builder = builder.step(step, {
      action: async ({ sagaId }) => {
        await participants.write(i, sagaId);
      },
      compensate: async ({ sagaId }) => {
        await participants.undo(i, sagaId);
      },
      retry: { maxAttempts: STEP_ATTEMPTS },
      timeoutMs: STEP_TIMEOUT_MS,
    });
  });
  const definition = builder.build();
  // Completion is seen where the orchestrator records it: the write that makes a saga terminal.
  // Watching the store costs no query (polling the saga's row would add reads to Converge's side).
  const store = storage.sagas;
  const waiting = new Map();
  const ended = new Map();
  const watched = new Proxy(store, {
    get(target, property) {
      if (property === 'record') {
        return async (id, fencingToken, write, options) => {
          const outcome = await target.record(id, fencingToken, write, options);
          // One write may record several transitions; the last one's status is the saga's.
          const status = Array.isArray(write) ? write.at(-1).status : write.status;
          if (outcome === 'recorded' && TERMINAL_SAGA_STATUSES.has(status)) {
            const resolve = waiting.get(id);
            if (resolve === undefined) ended.set(id, status);
            else resolve(status);
            waiting.delete(id);
          }
          return outcome;
        };
      }
      const value = Reflect.get(target, property);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
  const orchestrator = createOrchestrator({
    storage: { ...storage, sagas: watched },
    definitions: [definition],
  });
  await orchestrator.start();
  return {
    async runOne() {
      const { sagaId } = await orchestrator.startSaga(definition, {});
      const status = ended.get(sagaId) ?? (await new Promise((resolve) => waiting.set(sagaId, resolve)));
      ended.delete(sagaId);
      if (status !== 'completed') throw new Error(`saga ${sagaId} ended ${status}`);
    },
    async close() {
      await orchestrator.stop();
      await storage.close();
      await participants.close();
    },
  };
}

/** The systems by name. */
export const SYSTEMS = Object.freeze({ bare: openBare, dbos: openDbos, converge: openConverge });
