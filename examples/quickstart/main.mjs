/**
 * The quick start: three services, each with its own SQLite file, and no server at all.
 *
 * Customer Profile marks customers unsubscribed and appends `customer.unsubscribed` to its outbox
 * in the same transaction. A relay moves committed messages to a SQL log (a fourth SQLite file).
 * Support Contract and Billing Payment each apply every message once, in per-customer order, in a
 * transaction of their own database. Then the whole outbox is published a second time, as after a
 * relay crash between publishing and marking: the consumers acknowledge the repeats without a
 * second effect. Prints a JSON report; exits 1 if the services do not agree.
 *
 * Usage: npm run demo [-- --messages 2000 --customers 200]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createInbox, createOutbox, createRelay, createSqlLogTransport } from '@converge/core';
import { createSqliteStorage } from '@converge/core/sqlite';

const { values } = parseArgs({
  options: { messages: { type: 'string', default: '2000' }, customers: { type: 'string', default: '200' } },
});
const messages = Number(values.messages);
const customers = Number(values.customers);
if (!Number.isSafeInteger(messages) || messages < 1 || !Number.isSafeInteger(customers) || customers < 1) {
  console.error(
    '--messages and --customers take positive whole numbers, e.g. --messages 2000 --customers 200',
  );
  process.exit(2);
}

const dir = mkdtempSync(join(tmpdir(), 'converge-quickstart-'));
const open = async (name) => {
  const storage = createSqliteStorage({ path: join(dir, `${name}.db`) });
  await storage.migrate();
  return storage;
};

const started = Date.now();
const customerProfile = await open('customer-profile');
const broker = await open('broker');
const services = {
  'support-contract': await open('support-contract'),
  'billing-payment': await open('billing-payment'),
};

await customerProfile.transaction((tx) =>
  tx.execute('CREATE TABLE customer (id TEXT PRIMARY KEY, status TEXT NOT NULL, changes INTEGER NOT NULL)'),
);
for (const storage of Object.values(services)) {
  await storage.transaction((tx) =>
    tx.execute(
      'CREATE TABLE applied (customer_id TEXT NOT NULL, sequence INTEGER NOT NULL, PRIMARY KEY (customer_id, sequence))',
    ),
  );
}

const transport = createSqlLogTransport({ storage: broker, pollIntervalMs: 50 });
const outbox = createOutbox({ storage: customerProfile, source: 'customer-profile' });
const consumers = [];
const outOfOrder = { 'support-contract': 0, 'billing-payment': 0 };
for (const [name, storage] of Object.entries(services)) {
  const inbox = createInbox({ storage, transport });
  consumers.push(
    await inbox.subscribe({ consumer: name, types: ['customer.unsubscribed'] }, async (message, tx) => {
      const [last] = await tx.query('SELECT MAX(sequence) AS s FROM applied WHERE customer_id = ?', [
        message.subject,
      ]);
      if ((last?.s ?? 0) !== message.sequence - 1) outOfOrder[name] += 1;
      await tx.execute('INSERT INTO applied (customer_id, sequence) VALUES (?, ?)', [
        message.subject,
        message.sequence,
      ]);
    }),
  );
}
const relay = createRelay({ storage: customerProfile, transport, pollIntervalMs: 50 });
await relay.start();

// The business transactions: each changes the customer row and appends its message, atomically.
for (let i = 0; i < messages; i += 1) {
  const id = `customer-${i % customers}`;
  await customerProfile.transaction(async (tx) => {
    await tx.execute(
      "INSERT INTO customer (id, status, changes) VALUES (?, 'unsubscribed', 1) ON CONFLICT (id) DO UPDATE SET changes = changes + 1",
      [id],
    );
    await outbox.append(tx, [{ type: 'customer.unsubscribed', key: id, data: { customerId: id } }]);
  });
}

const countApplied = async (storage) =>
  Number((await storage.transaction((tx) => tx.query('SELECT COUNT(*) AS n FROM applied')))[0].n);
const waitUntilApplied = async () => {
  const deadline = Date.now() + 120_000;
  for (;;) {
    const counts = await Promise.all(Object.values(services).map(countApplied));
    if (counts.every((n) => n >= messages) || Date.now() > deadline) return counts;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
};
await waitUntilApplied();

// An outage's aftermath: everything is delivered again. Nobody re-publishes by hand, and nothing applies twice.
const rows = await customerProfile.transaction((tx) =>
  tx.query('SELECT message_id, source, type, key, body FROM converge_outbox'),
);
await transport.publish(
  rows.map((r) => ({ messageId: r.message_id, source: r.source, type: r.type, key: r.key, body: r.body })),
);
const logged = Number(
  (await broker.transaction((tx) => tx.query('SELECT COUNT(*) AS n FROM converge_log')))[0].n,
);
const lagDeadline = Date.now() + 60_000;
for (;;) {
  const positions = await broker.transaction((tx) => tx.query('SELECT position FROM converge_log_group'));
  if (
    (positions.length === 2 && positions.every((p) => Number(p.position) >= logged)) ||
    Date.now() > lagDeadline
  )
    break;
  await new Promise((resolve) => setTimeout(resolve, 100));
}
const applied = await waitUntilApplied();

await relay.stop();
for (const consumer of consumers) await consumer.stop();
await transport.close();

const report = {
  messages,
  customers,
  delivered: logged,
  applied: Object.fromEntries(Object.keys(services).map((name, i) => [name, applied[i]])),
  outOfOrder,
  consistent: applied.every((n) => n === messages) && Object.values(outOfOrder).every((n) => n === 0),
  seconds: Number(((Date.now() - started) / 1000).toFixed(1)),
};
for (const storage of [customerProfile, broker, ...Object.values(services)]) await storage.close();
rmSync(dir, { recursive: true, force: true });
console.log(JSON.stringify(report, null, 2));
process.exit(report.consistent ? 0 : 1);
