/**
 * The saga benchmark (`npm run bench` runs it after pipeline.js; `npm run bench:sagas` runs it
 * alone): 3-step sagas/s and per-step overhead of Converge's orchestrator against DBOS Transact
 * workflows doing the same work, and against the raw commit ceiling, all in one run against one
 * PostgreSQL server.
 *
 * (a) raw ceiling: single-row INSERT commits/s at 1 and 8 connections (raw-commits.js);
 * (s) for each concurrency and round: the bare step work, DBOS and Converge, each in a fresh
 *     process, closed loop, warm-up then a measured window; afterwards each participant holds
 *     exactly one effect per saga step, and the orchestrator's (DBOS's system) database's
 *     transactions and written rows per saga are read from `pg_stat_database`.
 * Writes bench/sagas-results.json and the "Sagas" section of bench/RESULTS.md (replacing an
 * earlier one, keeping the pipeline's sections).
 *
 * Environment: BENCH_DATABASE_URL (admin URL, default postgres://postgres@127.0.0.1:5432/postgres),
 * BENCH_RAW_SECONDS (a, default 8), BENCH_SAGA_SECONDS (measured window, default 5),
 * BENCH_SAGA_ROUNDS (default 4).
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { measureRawCeiling, positiveFromEnv as positive, runToEnd, startBenchRun } from './bench-run.js';
import { BenchChild } from './children.js';
import { nowMs, sleep } from './clock.js';
import { BenchDatabases } from './databases.js';
import { countEffects, resetParticipants, STEPS } from './saga-participants.js';
import { renderSagaSection, SAGA_SECTION_HEADING } from './saga-results-markdown.js';
import { summariseSagaRuns } from './saga-summary.js';
import { describeMachine } from './stats.js';

const SETTINGS = Object.freeze({
  concurrencies: [1, 8],
  rawWarmupSeconds: 1,
  rawSeconds: positive('BENCH_RAW_SECONDS', 8),
  sagaWarmupSeconds: 2,
  sagaSeconds: positive('BENCH_SAGA_SECONDS', 5),
  rounds: positive('BENCH_SAGA_ROUNDS', 4),
  /** Connections of the orchestrator's storage and of DBOS's system database (DBOS's default). */
  systemPoolSize: 10,
  /** Connections of each participant's pool, in every system. */
  participantPoolSize: 8,
});
/** The whole run is abandoned (children killed, databases dropped) after this long. */
const DEADLINE_MS = 12 * 60_000;

const databases = new BenchDatabases();
const { log, elapsedSeconds } = startBenchRun({ name: 'bench sagas', databases, deadlineMs: DEADLINE_MS });

/** Transactions and written rows of database `name` so far (complete once its backends have exited). */
async function databaseActivity(name) {
  const { rows } = await databases.query(
    'SELECT xact_commit::bigint AS commits, (tup_inserted + tup_updated + tup_deleted)::bigint AS rows FROM pg_stat_database WHERE datname = $1',
    [name],
  );
  return { commits: Number(rows[0].commits), rows: Number(rows[0].rows) };
}

/** Waits (at most 10 s) until no backend is connected to `name`, so its statistics are flushed. */
async function waitForBackendsGone(name) {
  const until = nowMs() + 10_000;
  while (nowMs() < until) {
    const { rows } = await databases.query(
      'SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1',
      [name],
    );
    if (rows[0].n === 0) break;
    await sleep(50);
  }
  await databases.query('SELECT pg_stat_clear_snapshot()');
}

/** The installed DBOS Transact version (its package.json is not among its exports). */
function dbosVersion() {
  const path = new URL('../node_modules/@dbos-inc/dbos-sdk/package.json', import.meta.url);
  return JSON.parse(readFileSync(path, 'utf8')).version;
}

/** The commit measured, and whether @converge/core's sources differed from it (others' work in progress). */
function sourceRevision() {
  const git = (...args) => execFileSync('git', args, { encoding: 'utf8' }).trim();
  try {
    const dirty = git('status', '--porcelain', '--', 'packages/core/src') !== '';
    return `${git('rev-parse', '--short', 'HEAD')}${dirty ? ' with uncommitted changes in packages/core/src' : ''}`;
  } catch {
    return 'unknown (not a git checkout)';
  }
}

const databaseName = (url) => new URL(url).pathname.slice(1);

/**
 * Runs one system in a fresh process for one window (or only starts and stops it when
 * `concurrency` is 0: the first start migrates its database outside the measurements).
 */
async function runSystem(system, urls, concurrency) {
  const systemUrl = urls.system[system];
  const name = systemUrl === undefined ? null : databaseName(systemUrl);
  await resetParticipants(urls.participants);
  if (name !== null) await waitForBackendsGone(name);
  const before = name === null ? null : await databaseActivity(name);
  const child = new BenchChild(`${system} sagas`, './saga-process.js', {
    system,
    systemUrl,
    systemPoolSize: SETTINGS.systemPoolSize,
    participantUrls: urls.participants,
    participantPoolSize: SETTINGS.participantPoolSize,
  });
  let result = null;
  try {
    await child.waitFor('ready', 60_000);
    if (concurrency > 0) {
      const windowMs = (SETTINGS.sagaWarmupSeconds + SETTINGS.sagaSeconds) * 1000;
      child.send({
        type: 'run',
        concurrency,
        warmupMs: SETTINGS.sagaWarmupSeconds * 1000,
        durationMs: SETTINGS.sagaSeconds * 1000,
      });
      result = await child.waitFor('result', windowMs + 60_000);
    }
  } finally {
    await child.stop(30_000);
  }
  if (result === null) return null;
  const effects = await countEffects(urls.participants);
  const n = result.startedInAll;
  const check = {
    ok: result.errors === 0 && effects.every((e) => e.rows === n && e.pairs === n && e.sagas === n),
    sagasStarted: n,
    effects,
  };
  let orchestrator = null;
  if (name !== null) {
    await waitForBackendsGone(name);
    const after = await databaseActivity(name);
    orchestrator = {
      transactionsPerSaga: (after.commits - before.commits) / n,
      rowsWrittenPerSaga: (after.rows - before.rows) / n,
    };
  }
  const { type: _type, ...measured } = result;
  return { system, ...measured, check, orchestrator };
}

async function main() {
  const revision = sourceRevision();
  const machine = await describeMachine(databases);
  log(`${machine.cores} cores, synchronous_commit=${machine.postgresSettings.synchronous_commit}`);

  const rawUrl = await databases.create('sagas_raw');
  const raw = await measureRawCeiling(rawUrl, SETTINGS, log);
  await databases.drop(rawUrl);

  const systems = ['bare', 'dbos', 'converge'];
  const urls = { participants: [], system: {} };
  for (const step of STEPS) urls.participants.push(await databases.create(`sagas_participant_${step}`));
  // DBOS is given its system database, so it creates none of its own (`<app>_dbos_sys`).
  urls.system.dbos = await databases.create('sagas_dbos_sys');
  urls.system.converge = await databases.create('sagas_orchestrator');
  for (const system of systems.filter((s) => urls.system[s] !== undefined)) await runSystem(system, urls, 0);

  const runs = [];
  for (let round = 1; round <= SETTINGS.rounds; round += 1) {
    // Alternate the order, so neither engine always runs on a warmer (or busier) server.
    const order = round % 2 === 1 ? systems : [...systems].reverse();
    for (const concurrency of SETTINGS.concurrencies) {
      for (const system of order) {
        const run = { round, ...(await runSystem(system, urls, concurrency)) };
        const writes = run.orchestrator
          ? `, ${run.orchestrator.transactionsPerSaga.toFixed(2)} orchestrator transactions/saga`
          : '';
        log(
          `(s) round ${round}, ${system}, ${concurrency} in flight: ${run.sagasPerSecond} sagas/s, mean ${run.meanMs} ms${writes}, check ${run.check.ok ? 'ok' : `FAILED (${run.firstError ?? 'effects'})`}`,
        );
        runs.push(run);
      }
    }
  }

  const results = summariseSagaRuns({
    machine,
    settings: {
      ...SETTINGS,
      steps: STEPS,
      dbosVersion: dbosVersion(),
      revision,
      totalSeconds: Math.round(elapsedSeconds()),
    },
    raw,
    runs,
  });
  const here = new URL('.', import.meta.url);
  writeFileSync(new URL('sagas-results.json', here), `${JSON.stringify(results, null, 2)}\n`);
  const resultsMd = new URL('RESULTS.md', here);
  let existing = '';
  try {
    existing = readFileSync(resultsMd, 'utf8');
  } catch {
    // No pipeline results yet: the saga section stands alone.
  }
  const cut = existing.indexOf(`\n${SAGA_SECTION_HEADING}\n`);
  const kept = (cut === -1 ? existing : existing.slice(0, cut)).trimEnd();
  writeFileSync(resultsMd, `${kept === '' ? '' : `${kept}\n\n`}${renderSagaSection(results)}`);
  log('wrote the Sagas section of bench/RESULTS.md and bench/sagas-results.json');
}

await runToEnd(main, databases);
