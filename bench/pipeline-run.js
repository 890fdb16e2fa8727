/**
 * One end-to-end run: fresh producer, broker and consumer databases; the relay and the consumer
 * as child processes; the producer in this process. A closed-loop warm-up (its messages are not
 * measured) fills the caches and creates the key rows, then the measured messages are produced
 * closed-loop (throughput) or paced (latency), and the run ends when the consumer has committed
 * the effect of the last one. Afterwards it checks that every message had exactly one effect.
 */
import { createPostgresStorage } from '@converge/core/postgres';
import { BenchChild } from './children.js';
import { nowMs } from './clock.js';
import { BUSINESS_TABLE_SQL, createProducer } from './producer.js';
import { percentile, round } from './stats.js';

const EFFECT_TABLE_SQL =
  'CREATE TABLE effect (n bigint PRIMARY KEY, message_id text NOT NULL, customer_id text NOT NULL, applied_at timestamptz NOT NULL DEFAULT clock_timestamp())';

/**
 * @param {import('./databases.js').BenchDatabases} databases
 * @param {object} options
 * @param {string} options.label database label (a-z0-9_)
 * @param {number} options.producers producer connections (closed loop) or most transactions in flight (paced)
 * @param {number} options.warmup messages before the measured ones
 * @param {number} options.messages measured messages
 * @param {number} [options.ratePerSecond] open loop at this rate (latency run); closed loop when absent
 * @param {number} [options.perTransaction] messages per business transaction (closed loop), default 1
 * @param {number} options.timeoutMs longest wait for the consumer to finish
 * @param {object} options.settings relay/consumer settings (see pipeline.js)
 */
export async function runPipeline(databases, options) {
  const { label, producers, warmup, messages, ratePerSecond, timeoutMs, settings } = options;
  const perTransaction = options.perTransaction ?? 1;
  const urls = {
    producerUrl: await databases.create(`${label}_producer`),
    brokerUrl: await databases.create(`${label}_broker`),
    consumerUrl: await databases.create(`${label}_consumer`),
  };
  await prepare(urls.producerUrl, BUSINESS_TABLE_SQL);
  await prepare(urls.brokerUrl, null);
  await prepare(urls.consumerUrl, EFFECT_TABLE_SQL);

  const producer = createProducer({ url: urls.producerUrl, connections: producers });
  const relay = new BenchChild(`relay (${label})`, './relay-process.js', {
    ...urls,
    batchSize: settings.relayBatchSize,
    pollIntervalMs: settings.relayPollIntervalMs,
    transportPollIntervalMs: settings.transportPollIntervalMs,
    sampleIntervalMs: settings.sampleIntervalMs,
  });
  const consumer = new BenchChild(`consumer (${label})`, './consumer-process.js', {
    ...urls,
    batchSize: settings.consumerBatchSize,
    transportPollIntervalMs: settings.transportPollIntervalMs,
    recordCommits: ratePerSecond !== undefined,
    sampleIntervalMs: settings.sampleIntervalMs,
  });
  try {
    await Promise.all([relay.waitFor('ready', 30_000), consumer.waitFor('ready', 30_000)]);
    if (warmup > 0) {
      await producer.runClosedLoop(0, warmup, producers);
      consumer.send({ type: 'watch', target: warmup });
      await consumer.waitFor('reached', timeoutMs);
    }
    const reached = consumer.waitFor('reached', timeoutMs);
    reached.catch(() => undefined); // awaited below; this only keeps an early producer failure from leaving it unhandled
    consumer.send({ type: 'watch', target: warmup + messages });
    const startedAtMs = nowMs();
    let paced = null;
    if (ratePerSecond === undefined)
      await producer.runClosedLoop(warmup, messages, producers, perTransaction);
    else paced = await producer.runPaced(warmup, messages, ratePerSecond, producers);
    const producedAtMs = nowMs();
    const done = await reached;
    const seconds = (done.atMs - startedAtMs) / 1000;
    const result = {
      producers,
      messagesPerTransaction: perTransaction,
      warmupMessages: warmup,
      messages,
      seconds: round(seconds, 2),
      messagesPerSecond: round(messages / seconds, 0),
      producerMessagesPerSecond: round(messages / ((producedAtMs - startedAtMs) / 1000), 0),
      latency: paced === null ? null : await latencies(consumer, paced, warmup, ratePerSecond),
    };
    await Promise.all([relay.stop(15_000), consumer.stop(15_000)]);
    const final = consumer.samples.at(-1);
    const cpuPerMessage = (samples) => {
      const last = samples.at(-1);
      return last?.count > 0 ? round(last.cpuMs / last.count, 3) : null;
    };
    return {
      ...result,
      relayCpuMsPerMessage: cpuPerMessage(relay.samples),
      consumerCpuMsPerMessage: cpuPerMessage(consumer.samples),
      consumerStatementsPerMessage: final?.count > 0 ? round(final.statements / final.count, 2) : null,
      check: await check(urls, warmup + messages),
      relaySamples: relay.samples,
      consumerSamples: consumer.samples,
    };
  } finally {
    relay.kill();
    consumer.kill();
    await producer.close().catch(() => undefined);
    for (const url of Object.values(urls)) await databases.drop(url).catch(() => undefined);
  }
}

/**
 * Diagnostic: the producer's business transactions alone (no relay, no consumer running), closed
 * loop on `producers` connections, `messages` after `warmup`.
 */
export async function runProducerOnly(databases, { label, producers, warmup, messages }) {
  const url = await databases.create(`${label}_producer`);
  const producer = createProducer({ url, connections: producers });
  try {
    await prepare(url, BUSINESS_TABLE_SQL);
    await producer.runClosedLoop(0, warmup, producers);
    const startedAtMs = nowMs();
    await producer.runClosedLoop(warmup, messages, producers);
    const seconds = (nowMs() - startedAtMs) / 1000;
    return {
      producers,
      messages,
      seconds: round(seconds, 2),
      messagesPerSecond: round(messages / seconds, 0),
    };
  } finally {
    await producer.close().catch(() => undefined);
    await databases.drop(url).catch(() => undefined);
  }
}

async function prepare(url, tableSql) {
  const storage = createPostgresStorage({ connectionString: url, max: 1, applicationName: 'converge-bench' });
  try {
    await storage.migrate();
    if (tableSql !== null) await storage.transaction((tx) => tx.execute(tableSql));
  } finally {
    await storage.close();
  }
}

/** Commit-to-effect latency of each paced message, from the consumer's record of its commits. */
async function latencies(consumer, paced, warmup, ratePerSecond) {
  const reply = consumer.waitFor('commits', 30_000);
  consumer.send({ type: 'commits' });
  const { ns, atMs } = await reply;
  const values = new Float64Array(paced.committedAtMs.length).fill(Number.NaN);
  for (let k = 0; k < ns.length; k += 1) {
    const i = ns[k] - warmup;
    if (i >= 0 && i < values.length) values[i] = atMs[k] - paced.committedAtMs[i];
  }
  const quarter = Math.floor(values.length / 4);
  const all = values.filter((v) => !Number.isNaN(v));
  return {
    targetRatePerSecond: round(ratePerSecond, 0),
    achievedRatePerSecond: round(paced.committedAtMs.length / paced.seconds, 0),
    samples: all.length,
    p50Ms: round(percentile(all, 50), 2),
    p90Ms: round(percentile(all, 90), 2),
    p99Ms: round(percentile(all, 99), 2),
    maxMs: round(
      all.reduce((a, b) => Math.max(a, b), 0),
      2,
    ),
    // A queue that grows during the run shows as a later quarter much slower than the first.
    p50FirstQuarterMs: round(percentile(values.subarray(0, quarter), 50), 2),
    p50LastQuarterMs: round(percentile(values.subarray(values.length - quarter), 50), 2),
    producerStartLagP99Ms: round(percentile(paced.startLagMs, 99), 2),
  };
}

/** Every message applied exactly once, nothing left behind. */
async function check(urls, expected) {
  const query = async (url, sql) => {
    const storage = createPostgresStorage({
      connectionString: url,
      max: 1,
      applicationName: 'converge-bench',
    });
    try {
      return (await storage.transaction((tx) => tx.query(sql)))[0];
    } finally {
      await storage.close();
    }
  };
  const effects = await query(
    urls.consumerUrl,
    `SELECT count(*)::int AS effects, count(DISTINCT n)::int AS distinct_messages,
            (SELECT count(*)::int FROM converge.inbox_receipt) AS receipts,
            (SELECT count(*)::int FROM converge.dead_letter) AS dead_letters,
            (SELECT count(*)::int FROM converge.inbox_parked) AS parked
     FROM effect`,
  );
  const outbox = await query(
    urls.producerUrl,
    'SELECT count(*) FILTER (WHERE published_at IS NULL)::int AS unpublished FROM converge.outbox',
  );
  const ok =
    effects.effects === expected &&
    effects.distinct_messages === expected &&
    effects.receipts === expected &&
    effects.dead_letters === 0 &&
    outbox.unpublished === 0;
  return { ok, expected, ...effects, unpublished: outbox.unpublished };
}
