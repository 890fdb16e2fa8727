/**
 * What every benchmark script (pipeline.js, sagas.js) does around its measurements: read its
 * settings from the environment, log with the time since start, give up after a deadline or on a
 * signal (children killed, databases dropped), and clean up however it ends.
 */
import { killAllChildren } from './children.js';
import { nowMs } from './clock.js';
import { measureRawCommits } from './raw-commits.js';

/** The positive whole number in environment variable `name`, or `fallback`. */
export function positiveFromEnv(name, fallback) {
  const value = Number(process.env[name] ?? fallback);
  if (!Number.isSafeInteger(value) || value < 1) throw new Error(`${name} must be a positive whole number.`);
  return value;
}

/**
 * Starts a run named `name` (in log lines) that is abandoned after `deadlineMs` or on SIGINT or
 * SIGTERM; `databases` (a BenchDatabases) is dropped then. Returns its `log` and `elapsedSeconds`.
 */
export function startBenchRun({ name, databases, deadlineMs }) {
  const startMs = nowMs();
  const abort = async (reason) => {
    console.error(`${name} aborted: ${reason}`);
    killAllChildren();
    await databases.dropAll();
    process.exit(1);
  };
  process.on('SIGINT', () => abort('SIGINT'));
  process.on('SIGTERM', () => abort('SIGTERM'));
  setTimeout(() => abort(`still running after ${deadlineMs / 60_000} minutes`), deadlineMs).unref();
  const elapsedSeconds = () => (nowMs() - startMs) / 1000;
  return {
    log: (message) => console.log(`[${name} ${elapsedSeconds().toFixed(1)}s] ${message}`),
    elapsedSeconds,
  };
}

/** Runs `main`; prints what it throws (exit code 1); always kills the children and drops the databases. */
export async function runToEnd(main, databases) {
  try {
    await main();
  } catch (error) {
    console.error(error);
    process.exitCode = 1;
  } finally {
    killAllChildren();
    await databases.dropAll();
  }
}

/**
 * The raw ceiling (raw-commits.js) at each of `settings.concurrencies`, after
 * `settings.rawWarmupSeconds`, for `seconds` (default `settings.rawSeconds`) each; `sql` replaces
 * the INSERT and `label` names it in the log.
 */
export async function measureRawCeiling(url, settings, log, options = {}) {
  const { seconds = settings.rawSeconds, sql, label = '(a) raw INSERT' } = options;
  const results = [];
  for (const connections of settings.concurrencies) {
    const result = await measureRawCommits({
      url,
      connections,
      warmupMs: settings.rawWarmupSeconds * 1000,
      durationMs: seconds * 1000,
      ...(sql === undefined ? {} : { sql }),
    });
    log(`${label} commits, ${connections} connection(s): ${Math.round(result.commitsPerSecond)}/s`);
    results.push(result);
  }
  return results;
}
