/** Turns the saga benchmark's runs into the object written to `sagas-results.json` (rendered by saga-results-markdown.js). */
import { round } from './stats.js';

export const SAGA_GOALS = Object.freeze({
  /** Converge's sagas/s ÷ DBOS's workflows/s at the same concurrency. */
  convergeToDbos: 1,
  stretchConvergeToDbos: 1.5,
});

const mean = (values) => values.reduce((sum, v) => sum + v, 0) / values.length;

/**
 * One system at one concurrency, averaged over its rounds. Per-step overhead =
 * (mean saga time − mean time of the bare step work) ÷ steps, at the same concurrency.
 */
function summarise(runs, bare, steps, rawCommitsPerSecond) {
  const sagasPerSecond = mean(runs.map((r) => r.sagasPerSecond));
  const meanMs = mean(runs.map((r) => r.meanMs));
  const orchestrated = runs.every((r) => r.orchestrator !== null);
  return {
    sagasPerSecond: round(sagasPerSecond, 1),
    roundsSagasPerSecond: runs.map((r) => r.sagasPerSecond),
    meanMs: round(meanMs, 3),
    p99Ms: round(mean(runs.map((r) => r.p99Ms)), 3),
    cpuMsPerSaga: round(mean(runs.map((r) => r.cpuMsPerSaga)), 2),
    overheadPerStepMs: bare === undefined ? null : round((meanMs - bare.meanMs) / steps, 3),
    /** Step commits/s as a share of the raw ceiling: sagas/s × steps ÷ raw commits/s. */
    ratioToRawCeiling: round((sagasPerSecond * steps) / rawCommitsPerSecond, 3),
    orchestratorTransactionsPerStep: orchestrated
      ? round(mean(runs.map((r) => r.orchestrator.transactionsPerSaga)) / steps, 2)
      : null,
    orchestratorRowsWrittenPerStep: orchestrated
      ? round(mean(runs.map((r) => r.orchestrator.rowsWrittenPerSaga)) / steps, 2)
      : null,
    checksOk: runs.every((r) => r.check.ok),
  };
}

/** The results object. */
export function summariseSagaRuns({ machine, settings, raw, runs }) {
  const steps = settings.steps.length;
  const byConcurrency = {};
  for (const concurrency of settings.concurrencies) {
    const rawRate = raw.find((r) => r.connections === concurrency).commitsPerSecond;
    const of = (system) => runs.filter((r) => r.system === system && r.concurrency === concurrency);
    const bare = summarise(of('bare'), undefined, steps, rawRate);
    const entry = {
      rawCommitsPerSecond: round(rawRate, 0),
      bare,
      dbos: summarise(of('dbos'), bare, steps, rawRate),
      converge: summarise(of('converge'), bare, steps, rawRate),
    };
    entry.convergeToDbos = round(entry.converge.sagasPerSecond / entry.dbos.sagasPerSecond, 3);
    byConcurrency[concurrency] = entry;
  }
  const goal = (target) =>
    Object.fromEntries(
      Object.entries(byConcurrency).map(([c, e]) => [
        c,
        {
          target,
          value: e.convergeToDbos,
          met: e.convergeToDbos >= target,
        },
      ]),
    );
  return {
    generatedAt: new Date().toISOString(),
    machine,
    settings,
    byConcurrency,
    runs,
    goals: {
      convergeToDbos: goal(SAGA_GOALS.convergeToDbos),
      stretchConvergeToDbos: goal(SAGA_GOALS.stretchConvergeToDbos),
    },
    checksOk: runs.every((r) => r.check.ok),
  };
}
