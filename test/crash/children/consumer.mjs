/**
 * The consumer service: records each applied message in `effect` (no unique constraint, so a
 * second effect would show). Runs until killed; may die at AFTER_HANDLER_COMMIT_BEFORE_ACK.
 */
import { createInbox, createSqlLogTransport } from '@converge/core';
import { faultsFromEnv, open, placeholder, required } from './common.mjs';

const url = required('CONSUMER_URL');
const p = placeholder(url);
const storage = await open(url);
const broker = await open(required('BROKER_URL'));
const transport = createSqlLogTransport({ storage: broker, pollIntervalMs: 20, leaseMs: 1_000 });
const inbox = createInbox({ storage, transport, faults: faultsFromEnv('consumer') });
await inbox.subscribe({ consumer: 'billing', batchSize: 50 }, async (message, tx) => {
  await tx.execute(
    `INSERT INTO effect (message_id, key, sequence, i) VALUES (${p(1)}, ${p(2)}, ${p(3)}, ${p(4)})`,
    [message.id, message.subject, message.sequence, message.data.i],
  );
});
