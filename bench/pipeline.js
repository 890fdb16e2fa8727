/**
 * `npm run bench`: the PostgreSQL pipeline benchmark, in one run against one server.
 *
 * (a) raw ceiling: single-row INSERT commits/s at 1 and 8 connections;
 * (b) end-to-end: business transaction + outbox append → relay → SQL log ("Postgres as the
 *     broker") → consumer effect + receipt, messages/s at 1 and 8 producer connections;
 * (c) commit-to-effect latency p50/p99 with an open-loop producer at half of (b)'s best rate;
 * (d) peak RSS of the relay and consumer processes over a 100,000-message run.
 * Writes bench/RESULTS.md and bench/results.json.
 *
 * Environment: BENCH_DATABASE_URL (admin URL, default postgres://postgres@127.0.0.1:5432/postgres),
 * BENCH_MESSAGES (b, default 10000), BENCH_MEMORY_MESSAGES (d, default 100000),
 * BENCH_RAW_SECONDS (a, default 8), BENCH_LATENCY_SECONDS (c, default 20).
 */
import { writeFileSync } from 'node:fs';
import { measureRawCeiling, positiveFromEnv as positive, runToEnd, startBenchRun } from './bench-run.js';
import { BenchDatabases } from './databases.js';
import { runPipeline, runProducerOnly } from './pipeline-run.js';
import { RAW_NOTIFY_SQL } from './raw-commits.js';
import { buildResults } from './report.js';
import { renderMarkdown } from './results-markdown.js';
import { describeMachine, summariseMemory } from './stats.js';

const SETTINGS = Object.freeze({
  concurrencies: [1, 8],
  rawWarmupSeconds: 1,
  rawSeconds: positive('BENCH_RAW_SECONDS', 8),
  rawNotifySeconds: 4,
  /** Covers every key once, so the measured messages find their key rows in place. */
  warmupMessages: 1000,
  throughputMessages: positive('BENCH_MESSAGES', 10_000),
  producerOnlyMessages: 3000,
  latencySeconds: positive('BENCH_LATENCY_SECONDS', 20),
  /** Diagnostic (c′): latency at a tenth of (b)'s best rate, the pipeline's floor with little queueing. */
  lowRateLatencySeconds: 10,
  latencyMaxInFlight: 8,
  memoryMessages: positive('BENCH_MEMORY_MESSAGES', 100_000),
  memoryProducers: 8,
  memoryMessagesPerTransaction: 50,
  keys: 1000,
  relayBatchSize: 200,
  relayPollIntervalMs: 100,
  transportPollIntervalMs: 100,
  consumerBatchSize: 100,
  sampleIntervalMs: 500,
});
/** The whole run is abandoned (children killed, databases dropped) after this long. */
const DEADLINE_MS = 20 * 60_000;

const databases = new BenchDatabases();
const { log, elapsedSeconds } = startBenchRun({ name: 'bench', databases, deadlineMs: DEADLINE_MS });

async function main() {
  const machine = await describeMachine(databases);
  log(
    `${machine.cores} cores, ${machine.postgres.split(' on ')[0]}, synchronous_commit=${machine.postgresSettings.synchronous_commit}`,
  );

  const rawUrl = await databases.create('raw');
  const raw = await measureRawCeiling(rawUrl, SETTINGS, log);
  // Diagnostic: the same INSERT, plus the pg_notify the outbox and the SQL log send with every
  // append. PostgreSQL serialises the commits of notifying transactions (one lock for the whole
  // cluster, held through the WAL flush), so this rate hardly grows with connections.
  const rawNotifying = await measureRawCeiling(rawUrl, SETTINGS, log, {
    seconds: SETTINGS.rawNotifySeconds,
    sql: RAW_NOTIFY_SQL,
    label: "(a') raw INSERT + pg_notify",
  });
  await databases.drop(rawUrl);

  // Diagnostic: what the business transaction with its outbox append costs on its own.
  const producerOnly = [];
  for (const producers of SETTINGS.concurrencies) {
    const result = await runProducerOnly(databases, {
      label: `po${producers}`,
      producers,
      warmup: SETTINGS.warmupMessages,
      messages: SETTINGS.producerOnlyMessages,
    });
    log(
      `(b') producer alone (no relay, no consumer), ${producers} connection(s): ${result.messagesPerSecond} transactions/s`,
    );
    producerOnly.push(result);
  }

  const throughput = [];
  for (const producers of SETTINGS.concurrencies) {
    const result = await runPipeline(databases, {
      label: `tp${producers}`,
      producers,
      warmup: SETTINGS.warmupMessages,
      messages: SETTINGS.throughputMessages,
      timeoutMs: 300_000,
      settings: SETTINGS,
    });
    log(
      `(b) end-to-end, ${producers} producer connection(s): ${result.messagesPerSecond} messages/s (producers committed ${result.producerMessagesPerSecond}/s), check ${result.check.ok ? 'ok' : 'FAILED'}`,
    );
    throughput.push(result);
  }

  const best = Math.max(...throughput.map((r) => r.messagesPerSecond));
  const rate = best / 2;
  const latencyMessages = Math.min(40_000, Math.max(1000, Math.round(rate * SETTINGS.latencySeconds)));
  const latencyRun = await runPipeline(databases, {
    label: 'latency',
    producers: SETTINGS.latencyMaxInFlight,
    warmup: SETTINGS.warmupMessages,
    messages: latencyMessages,
    ratePerSecond: rate,
    timeoutMs: 300_000,
    settings: SETTINGS,
  });
  log(
    `(c) latency at ${Math.round(rate)}/s: p50 ${latencyRun.latency.p50Ms} ms, p99 ${latencyRun.latency.p99Ms} ms, check ${latencyRun.check.ok ? 'ok' : 'FAILED'}`,
  );

  const lowRate = Math.max(5, best / 10);
  const lowRateRun = await runPipeline(databases, {
    label: 'latency_low',
    producers: SETTINGS.latencyMaxInFlight,
    warmup: SETTINGS.warmupMessages,
    messages: Math.max(100, Math.round(lowRate * SETTINGS.lowRateLatencySeconds)),
    ratePerSecond: lowRate,
    timeoutMs: 120_000,
    settings: SETTINGS,
  });
  log(
    `(c') latency at ${Math.round(lowRate)}/s: p50 ${lowRateRun.latency.p50Ms} ms, p99 ${lowRateRun.latency.p99Ms} ms, check ${lowRateRun.check.ok ? 'ok' : 'FAILED'}`,
  );

  const memoryRun = await runPipeline(databases, {
    label: 'memory',
    producers: SETTINGS.memoryProducers,
    warmup: 0,
    messages: SETTINGS.memoryMessages,
    perTransaction: SETTINGS.memoryMessagesPerTransaction,
    timeoutMs: 480_000,
    settings: SETTINGS,
  });
  const memory = {
    messages: SETTINGS.memoryMessages,
    messagesPerSecond: memoryRun.messagesPerSecond,
    seconds: memoryRun.seconds,
    check: memoryRun.check,
    relay: summariseMemory(memoryRun.relaySamples, SETTINGS.memoryMessages),
    consumer: summariseMemory(memoryRun.consumerSamples, SETTINGS.memoryMessages),
    consumerStatementsPerMessage: memoryRun.consumerStatementsPerMessage,
    relayCpuMsPerMessage: memoryRun.relayCpuMsPerMessage,
    consumerCpuMsPerMessage: memoryRun.consumerCpuMsPerMessage,
  };
  log(
    `(d) peak RSS over ${SETTINGS.memoryMessages} messages: relay ${memory.relay.peakRssMb} MB, consumer ${memory.consumer.peakRssMb} MB`,
  );

  const results = buildResults({
    machine,
    settings: { ...SETTINGS, latencyMessages, totalSeconds: Math.round(elapsedSeconds()) },
    raw,
    rawNotifying,
    producerOnly,
    throughput,
    latencyRun,
    lowRateRun,
    memory,
  });
  const here = new URL('.', import.meta.url);
  writeFileSync(new URL('results.json', here), `${JSON.stringify(results, null, 2)}\n`);
  writeFileSync(new URL('RESULTS.md', here), renderMarkdown(results));
  log('wrote bench/RESULTS.md and bench/results.json');
}

await runToEnd(main, databases);
