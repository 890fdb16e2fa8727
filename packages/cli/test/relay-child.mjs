/**
 * A relay as its own process, for tests that kill it: the outbox of `DATABASE_URL` → the SQL log
 * in the same database, a heartbeat every `HEARTBEAT_INTERVAL_MS`. Prints `started <relayId>`
 * once its first heartbeat is written, then runs until killed.
 */
import { createRelay, createSqlLogTransport } from '@converge/core';
import { openStorage } from '../dist/open-storage.js';

const storage = await openStorage(process.env.DATABASE_URL ?? '');
const relay = createRelay({
  storage,
  transport: createSqlLogTransport({ storage }),
  relayId: process.env.RELAY_ID,
  pollIntervalMs: 20,
  heartbeatIntervalMs: Number(process.env.HEARTBEAT_INTERVAL_MS ?? 100),
});
await relay.start();
process.stdout.write(`started ${relay.relayId}\n`);
