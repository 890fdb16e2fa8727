/**
 * One orchestrator instance of the randomised saga test, as its own process: it runs the
 * three-step saga `random` (each step an `httpCall` to its participant's `/apply`, compensated by
 * `/undo`; the body carries the saga's script for that step) until it gets SIGTERM (graceful stop,
 * exit 0) — or is killed with SIGKILL by the test, which then starts it again.
 *
 * Imports the built package (`npm run build` first). Environment: DATABASE_URL, PARTICIPANTS
 * (JSON array of three base URLs), STEP_TIMEOUT_MS, MAX_ATTEMPTS, LEASE_MS, CONCURRENCY,
 * ORCHESTRATOR_ID.
 */
import { createOrchestrator, defineSaga, httpCall } from '@converge/core';
import { required } from '../crash/children/common.mjs';

const STEPS = ['profile', 'contract', 'billing'];
const participants = JSON.parse(required('PARTICIPANTS'));
const timeoutMs = Number(required('STEP_TIMEOUT_MS'));
const retry = { maxAttempts: Number(required('MAX_ATTEMPTS')), initialDelayMs: 10, maxDelayMs: 40 };

let builder = defineSaga('random', 1);
STEPS.forEach((step, i) => {
  const body = (c) => ({ sagaId: c.sagaId, step, script: c.input.script?.[step] });
  builder = builder.step(step, {
    action: httpCall({ url: `${participants[i]}/apply`, body }),
    compensate: httpCall({ url: `${participants[i]}/undo`, body }),
    retry,
    timeoutMs,
    compensationRetry: retry,
    compensationTimeoutMs: timeoutMs,
  });
});

const url = required('DATABASE_URL');
const storage = url.startsWith('postgres')
  ? (await import('@converge/core/postgres')).createPostgresStorage({ connectionString: url, max: 20 })
  : (await import('@converge/core/sqlite')).createSqliteStorage({ path: url.slice('sqlite:'.length) });
const orchestrator = createOrchestrator({
  storage,
  definitions: [builder.build()],
  orchestratorId: required('ORCHESTRATOR_ID'),
  leaseMs: Number(required('LEASE_MS')),
  concurrency: Number(required('CONCURRENCY')),
  pollIntervalMs: 50,
  heartbeatIntervalMs: 1_000,
});
await orchestrator.start();
process.stdout.write('started\n');
process.once('SIGTERM', () => {
  void orchestrator
    .stop()
    .then(() => storage.close())
    .then(() => process.exit(0));
});
