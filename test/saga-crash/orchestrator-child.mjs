/**
 * An orchestrator process for the saga crash-point test: runs one saga (SAGA_ID, of the
 * definition named SAGA_NAME — the only one it registers, so it claims no other case's saga)
 * until it is final, then stops and exits 0. With CRASH_AT=point:n it kills itself with SIGKILL
 * the n-th time it reaches that fault point (see ../crash/children/common.mjs).
 *
 * The definition is the three-step saga of test/support/three-step-saga.ts, for the built package
 * (`npm run build` first). Environment: DATABASE_URL, SAGA_ID, SAGA_NAME, PARTICIPANTS (JSON
 * array of three base URLs), LEASE_MS, CRASH_AT, CRASH_LOG.
 */
import { createOrchestrator, defineSaga, httpCall } from '@converge/core';
import { faultsFromEnv, open, required } from '../crash/children/common.mjs';
import { exitUnlessFinal, untilSagaEnds } from './saga-end.mjs';

const STEPS = ['profile', 'contract', 'billing'];
const retry = { maxAttempts: 3, initialDelayMs: 20, maxDelayMs: 100 };
const participants = JSON.parse(required('PARTICIPANTS'));
const sagaId = required('SAGA_ID');

let builder = defineSaga(required('SAGA_NAME'), 1);
STEPS.forEach((step, i) => {
  builder = builder.step(step, {
    action: httpCall({
      url: `${participants[i]}/apply`,
      body: (c) => ({ sagaId: c.sagaId, step, script: c.input.script?.[step] }),
    }),
    compensate: httpCall({ url: `${participants[i]}/undo`, body: (c) => ({ sagaId: c.sagaId, step }) }),
    retry,
    timeoutMs: 10_000,
    compensationRetry: retry,
    compensationTimeoutMs: 10_000,
  });
});

const storage = await open(required('DATABASE_URL'));
const orchestrator = createOrchestrator({
  storage,
  definitions: [builder.build()],
  leaseMs: Number(process.env.LEASE_MS ?? 1000),
  pollIntervalMs: 25,
  faults: faultsFromEnv('orchestrator'),
});
await orchestrator.start();
const record = await untilSagaEnds(storage, sagaId);
await orchestrator.stop();
await storage.close();
exitUnlessFinal(record, sagaId);
