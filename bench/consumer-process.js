/**
 * The consumer as its own process: applies each message from the SQL log once, in a transaction of
 * the consumer database (effect row + receipt), and reports how many effects have committed (its
 * progress) with its memory.
 *
 * Messages from the parent: `watch { target }` → `reached { count, atMs }` as soon as `target`
 * effects have committed; `commits` → `commits { ns, atMs }`, the commit time (shared monotonic
 * clock, ms) of every applied message `n` (only with `recordCommits`).
 *
 * Config (argv[2], JSON): brokerUrl, consumerUrl, batchSize, transportPollIntervalMs,
 * recordCommits, sampleIntervalMs.
 */
import { createInbox, createSqlLogTransport } from '@converge/core';
import { openBenchStorage, readConfig, send, serve, startSampling } from './child-side.js';
import { nowMs } from './clock.js';

const config = readConfig();
const consumerDb = openBenchStorage(config.consumerUrl, 'converge-bench-consumer');
const broker = openBenchStorage(config.brokerUrl, 'converge-bench-consumer');
const transport = createSqlLogTransport({ storage: broker, pollIntervalMs: config.transportPollIntervalMs });

let applied = 0;
/** Statements the inbox and the handler ran inside the consumer's transactions (BEGIN/COMMIT excluded). */
let statements = 0;
let target = Number.POSITIVE_INFINITY;
/** Message numbers whose effect the current transaction wrote. */
let pending = [];
const commits = config.recordCommits ? { ns: [], atMs: [] } : null;

/** A transaction handle that counts its statements. */
const counting = (tx) =>
  Object.freeze({
    isTransaction: true,
    raw: tx.raw,
    query(sql, params) {
      statements += 1;
      return tx.query(sql, params);
    },
    execute(sql, params) {
      statements += 1;
      return tx.execute(sql, params);
    },
  });

/**
 * The consumer database, noting when each transaction commits: an effect counts once its
 * transaction has committed. (The inbox runs one transaction at a time per consumer, so one
 * `pending` list suffices.)
 */
const storage = {
  ...consumerDb,
  async transaction(work) {
    pending = [];
    try {
      const result = await consumerDb.transaction((tx) => work(counting(tx)));
      const atMs = nowMs();
      applied += pending.length;
      if (commits !== null) {
        for (const n of pending) {
          commits.ns.push(n);
          commits.atMs.push(atMs);
        }
      }
      if (applied >= target) {
        target = Number.POSITIVE_INFINITY;
        send({ type: 'reached', count: applied, atMs });
      }
      return result;
    } finally {
      pending = [];
    }
  },
};

const consumer = await createInbox({ storage, transport }).subscribe(
  { consumer: 'billing', batchSize: config.batchSize },
  async (message, tx) => {
    await tx.execute('INSERT INTO effect (n, message_id, customer_id) VALUES ($1, $2, $3)', [
      message.data.n,
      message.id,
      message.subject,
    ]);
    pending.push(message.data.n);
  },
);

const sampling = startSampling(
  config.sampleIntervalMs,
  () => applied,
  () => ({ statements }),
);
serve(
  {
    watch(message) {
      if (applied >= message.target) send({ type: 'reached', count: applied, atMs: nowMs() });
      else target = message.target;
    },
    commits() {
      send({ type: 'commits', ns: commits?.ns ?? [], atMs: commits?.atMs ?? [] });
    },
  },
  async () => {
    await consumer.stop();
    await transport.close();
    await Promise.all([consumerDb.close(), broker.close()]);
    sampling.sample();
    sampling.stop();
  },
);
send({ type: 'ready' });
