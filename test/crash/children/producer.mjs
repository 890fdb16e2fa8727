/**
 * The producer service: message i changes a business row and appends its message in one
 * transaction. On restart it resumes after the last committed i, so a kill right after a commit
 * (AFTER_BUSINESS_COMMIT) neither loses nor repeats a business change. Exits 0 when TOTAL are in.
 */
import { createOutbox, FaultPoint } from '@converge/core';
import { faultsFromEnv, open, placeholder, required } from './common.mjs';

const url = required('PRODUCER_URL');
const total = Number(required('TOTAL'));
const keys = Number(required('KEYS'));
const p = placeholder(url);
const storage = await open(url);
const outbox = createOutbox({ storage, source: 'customer-profile' });
const faults = faultsFromEnv('producer');

const [row] = await storage.transaction((tx) => tx.query('SELECT COALESCE(MAX(i), 0) AS i FROM produced'));
for (let i = Number(row.i) + 1; i <= total; i += 1) {
  // A stride coprime with `keys` spreads consecutive messages over all keys.
  const key = `customer-${(i * 7919) % keys}`;
  await storage.transaction(async (tx) => {
    await tx.execute(`INSERT INTO produced (i, customer) VALUES (${p(1)}, ${p(2)})`, [i, key]);
    await outbox.append(tx, [{ type: 'customer.changed', key, data: { i } }]);
  });
  faults.reach(FaultPoint.AFTER_BUSINESS_COMMIT);
}
await storage.close();
