/** Turns the measurements into the results object written to `results.json` (and rendered by results-markdown.js). */
import { round } from './stats.js';

export const GOALS = Object.freeze({
  ratioToRawCommit: 0.5,
  p50Ms: 5,
  p99Ms: 50,
  peakRssMb: 150,
  /**
   * "Flat": the second half of the run (50 % → 100 %) adds at most this much RSS. A Node process
   * grows its heap to a working size early on; a leak keeps growing with every message, so it
   * shows in the second half as much as in the first.
   */
  flatGrowthMb: 10,
});

const byConcurrency = (runs, key, pick) =>
  Object.fromEntries(runs.map((run) => [String(run[key]), pick(run)]));

/** The results object written to `results.json`. */
export function buildResults({
  machine,
  settings,
  raw,
  rawNotifying,
  producerOnly,
  throughput,
  latencyRun,
  lowRateRun,
  memory,
}) {
  const rawRate = byConcurrency(raw, 'connections', (r) => round(r.commitsPerSecond, 0));
  const runs = (list) =>
    list.map((r) => ({ ...r, commitsPerSecond: round(r.commitsPerSecond, 0), seconds: round(r.seconds, 2) }));
  const pipelineRate = byConcurrency(throughput, 'producers', (r) => r.messagesPerSecond);
  const ratio = Object.fromEntries(
    Object.entries(pipelineRate).map(([c, rate]) => [c, round(rate / rawRate[c], 3)]),
  );
  const withoutSamples = ({ relaySamples: _r, consumerSamples: _c, ...rest }) => rest;
  const memoryGoal = (process) => ({
    peakRssMb: process.peakRssMb,
    growth10To50Mb: round(process.rssAt50PercentMb - process.rssAt10PercentMb),
    growth50To100Mb: round(process.rssAt100PercentMb - process.rssAt50PercentMb),
    met:
      process.peakRssMb <= GOALS.peakRssMb &&
      process.rssAt100PercentMb - process.rssAt50PercentMb <= GOALS.flatGrowthMb,
  });
  return {
    generatedAt: new Date().toISOString(),
    machine,
    settings,
    raw: {
      commitsPerSecond: rawRate,
      runs: runs(raw),
      /** Diagnostic: the same INSERT with a pg_notify in its transaction, as every outbox append has. */
      notifyingCommitsPerSecond: byConcurrency(rawNotifying, 'connections', (r) =>
        round(r.commitsPerSecond, 0),
      ),
      notifyingRuns: runs(rawNotifying),
    },
    pipeline: {
      sqlLog: {
        messagesPerSecond: pipelineRate,
        producerMessagesPerSecond: byConcurrency(throughput, 'producers', (r) => r.producerMessagesPerSecond),
        ratioToRawCommit: ratio,
        /** Diagnostic: business transactions with their outbox append, nothing else running. */
        producerOnlyTransactionsPerSecond: byConcurrency(
          producerOnly,
          'producers',
          (r) => r.messagesPerSecond,
        ),
        producerOnlyRuns: producerOnly,
        throughputRuns: throughput.map(
          ({ relaySamples: _rs, consumerSamples: _cs, latency: _l, ...run }) => run,
        ),
        latencyRatePerSecond: latencyRun.latency.targetRatePerSecond,
        p50Ms: latencyRun.latency.p50Ms,
        p99Ms: latencyRun.latency.p99Ms,
        latency: withoutSamples(latencyRun),
        /** Diagnostic: latency at a tenth of (b)'s best rate. */
        lowRateLatency: withoutSamples(lowRateRun),
        memory,
      },
    },
    goals: {
      ratioToRawCommit: Object.fromEntries(
        Object.entries(ratio).map(([c, value]) => [
          c,
          { target: GOALS.ratioToRawCommit, value, met: value >= GOALS.ratioToRawCommit },
        ]),
      ),
      p50Ms: {
        target: GOALS.p50Ms,
        value: latencyRun.latency.p50Ms,
        met: latencyRun.latency.p50Ms <= GOALS.p50Ms,
      },
      p99Ms: {
        target: GOALS.p99Ms,
        value: latencyRun.latency.p99Ms,
        met: latencyRun.latency.p99Ms <= GOALS.p99Ms,
      },
      memory: {
        targetPeakRssMb: GOALS.peakRssMb,
        flatGrowthMb: GOALS.flatGrowthMb,
        relay: memoryGoal(memory.relay),
        consumer: memoryGoal(memory.consumer),
      },
    },
  };
}
