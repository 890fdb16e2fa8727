/**
 * An orchestrator process for the command-saga crash-point test: the orchestrating service's
 * command channel (its outbox for the commands, its inbox for the replies, on the SQL-log
 * transport in BROKER_URL) and an orchestrator that runs one saga (SAGA_ID, of the definition
 * named SAGA_NAME — the only one it registers, so it claims no other case's saga) until it is
 * final, then stops and exits 0. With CRASH_AT=point:n it kills itself with SIGKILL the n-th time
 * it reaches that fault point (see ../crash/children/common.mjs). The relay of its outbox and the
 * participant run in the test process.
 *
 * The definition is `commandSaga` of test/support/command-testbed.ts, for the built package
 * (`npm run build` first). Environment: DATABASE_URL (the orchestrating service's database),
 * BROKER_URL, SAGA_ID, SAGA_NAME, STEPS (JSON array of { step, action, compensation }: each step's
 * command types), REPLY_TO, LEASE_MS (the sagas' lease), REPLY_LEASE_MS (the reply consumer's),
 * CRASH_AT, CRASH_LOG.
 */
import {
  commandCall,
  createCommandChannel,
  createInbox,
  createOrchestrator,
  createOutbox,
  createSqlLogTransport,
  defineSaga,
} from '@converge/core';
import { faultsFromEnv, open, required } from '../crash/children/common.mjs';
import { exitUnlessFinal, untilSagaEnds } from '../saga-crash/saga-end.mjs';

const retry = { maxAttempts: 4, initialDelayMs: 20, maxDelayMs: 100 };
const timeoutMs = 10_000;
const sagaId = required('SAGA_ID');
const leaseMs = Number(required('LEASE_MS'));

const storage = await open(required('DATABASE_URL'));
const broker = await open(required('BROKER_URL'));
// The restarted process reads the replies once the killed one's lease on their consumer lapses.
const transport = createSqlLogTransport({
  storage: broker,
  pollIntervalMs: 20,
  leaseMs: Number(required('REPLY_LEASE_MS')),
});
const channel = createCommandChannel({
  storage,
  outbox: createOutbox({ storage, source: 'orders' }),
  inbox: createInbox({ storage, transport }),
  replyTo: required('REPLY_TO'),
  pollIntervalMs: 20,
});

const command = (type, step) =>
  commandCall(channel, {
    type,
    key: (c) => c.input.customer,
    data: (c) => ({ sagaId: c.sagaId, step, script: c.input.script?.[step] }),
  });
let builder = defineSaga(required('SAGA_NAME'), 1);
for (const { step, action, compensation } of JSON.parse(required('STEPS'))) {
  builder = builder.step(step, {
    action: command(action, step),
    compensate: command(compensation, step),
    retry,
    timeoutMs,
    compensationRetry: retry,
    compensationTimeoutMs: timeoutMs,
  });
}

await channel.start();
const orchestrator = createOrchestrator({
  storage,
  definitions: [builder.build()],
  leaseMs,
  pollIntervalMs: 25,
  faults: faultsFromEnv('orchestrator'),
});
await orchestrator.start();
const record = await untilSagaEnds(storage, sagaId);
await orchestrator.stop();
await channel.stop();
await transport.close();
await storage.close();
await broker.close();
exitUnlessFinal(record, sagaId);
