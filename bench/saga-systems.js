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
const STEP_ATTEMPTS = 3;
const STEP_TIMEOUT_MS = 30_000;

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

/** Whether this build of @converge/core has the saga orchestrator. */
export async function convergeOrchestratorAvailable() {
  const core = await import('@converge/core');
  return typeof core.createOrchestrator === 'function';
}

async function openConverge(_config) {
  if (!(await convergeOrchestratorAvailable())) {
    throw new Error('@converge/core has no createOrchestrator yet: build it first (npm run build).');
  }
  throw new Error('The Converge saga side is not written yet.');
}

/** The systems by name. */
export const SYSTEMS = Object.freeze({ bare: openBare, dbos: openDbos, converge: openConverge });
