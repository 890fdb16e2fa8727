/**
 * The producer: the business transaction of the owner service — one `customer_event` row and one
 * `customer.unsubscribed` message appended to the outbox, committed together — driven either
 * closed-loop (each connection starts its next transaction when the last one committed) or
 * open-loop (transactions start at a fixed rate, whatever the previous ones are doing).
 */
import { createOutbox } from '@converge/core';
import { createPostgresStorage } from '@converge/core/postgres';
import { nowMs } from './clock.js';

export const BUSINESS_TABLE_SQL =
  'CREATE TABLE customer_event (id bigserial PRIMARY KEY, customer_id text NOT NULL, status text NOT NULL)';

/** Distinct message keys (customers); message n goes to key n mod KEYS. */
export const KEYS = 1000;

/**
 * @param {{ url: string, connections: number }} options
 */
export function createProducer({ url, connections }) {
  const storage = createPostgresStorage({
    connectionString: url,
    max: connections,
    applicationName: 'converge-bench-producer',
  });
  const outbox = createOutbox({ storage, source: 'customer-profile' });

  /**
   * Commits one business transaction carrying messages first … first+count-1 (one
   * `customer_event` row and one outbox message each); resolves with the time it committed.
   */
  async function commit(first, count = 1) {
    const ns = Array.from({ length: count }, (_, i) => first + i);
    const customerIds = ns.map((n) => `customer-${n % KEYS}`);
    await storage.transaction(async (tx) => {
      await tx.execute(
        "INSERT INTO customer_event (customer_id, status) SELECT id, 'unsubscribed' FROM unnest($1::text[]) AS c(id)",
        [customerIds],
      );
      await outbox.append(
        tx,
        ns.map((n, i) => ({
          type: 'customer.unsubscribed',
          key: customerIds[i],
          data: { n, customerId: customerIds[i], status: 'unsubscribed', reason: 'benchmark' },
        })),
      );
    });
    return nowMs();
  }

  return {
    storage,

    /**
     * Closed loop: commits messages first … first+count-1 over `concurrency` connections,
     * `perTransaction` messages per business transaction.
     */
    async runClosedLoop(first, count, concurrency, perTransaction = 1) {
      let next = first;
      const end = first + count;
      const worker = async () => {
        while (next < end) {
          const n = next;
          const size = Math.min(perTransaction, end - n);
          next += size;
          await commit(n, size);
        }
      };
      await Promise.all(Array.from({ length: concurrency }, worker));
    },

    /**
     * Open loop: starts transaction i (message first+i) at start + i/rate, with at most
     * `maxInFlight` open at once. Returns each message's commit time and how late each started.
     */
    async runPaced(first, count, ratePerSecond, maxInFlight) {
      const committedAtMs = new Float64Array(count);
      const startLagMs = new Float64Array(count);
      const start = nowMs();
      const dueAt = (i) => start + (i * 1000) / ratePerSecond;
      let issued = 0;
      let inFlight = 0;
      let done = 0;
      await new Promise((resolve, reject) => {
        const tick = () => {
          const now = nowMs();
          while (issued < count && inFlight < maxInFlight && dueAt(issued) <= now) {
            const i = issued;
            issued += 1;
            inFlight += 1;
            startLagMs[i] = now - dueAt(i);
            commit(first + i).then((at) => {
              committedAtMs[i] = at;
              inFlight -= 1;
              done += 1;
              if (done === count) resolve();
            }, reject);
          }
          if (issued < count) setTimeout(tick, Math.max(0, Math.min(1, dueAt(issued) - nowMs())));
        };
        tick();
      });
      return { committedAtMs, startLagMs, seconds: (nowMs() - start) / 1000 };
    },

    close: () => storage.close(),
  };
}
