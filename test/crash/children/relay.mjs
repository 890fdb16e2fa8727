/** The relay: producer outbox → SQL log. Runs until killed; may die at AFTER_PUBLISH_BEFORE_MARK. */
import { createRelay, createSqlLogTransport } from '@converge/core';
import { faultsFromEnv, open, required } from './common.mjs';

const producer = await open(required('PRODUCER_URL'));
const broker = await open(required('BROKER_URL'));
const relay = createRelay({
  storage: producer,
  transport: createSqlLogTransport({ storage: broker }),
  batchSize: 100,
  pollIntervalMs: 20,
  leaseMs: 1_000,
  initialBackoffMs: 20,
  maxBackoffMs: 500,
  faults: faultsFromEnv('relay'),
});
await relay.start();
