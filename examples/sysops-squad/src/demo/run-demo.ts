/**
 * `converge demo`: the reference system under fire. Starts the four Sysops Squad services as
 * their own processes on SQLite files, runs the planned business transactions through Customer
 * Profile while the chaos kills services, takes the payment gateway down and slips in
 * permanently bad messages; restarts what it killed, waits until every database agrees with the
 * expected end state (or the time runs out), and reports what happened.
 */
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { ConvergeError, createOutbox, createSqlLogTransport, type Storage } from '@converge/core';
import { runOrchestratedDemo } from '../orchestrated/run-orchestrated-demo.js';
import { openServiceDatabase } from '../services/database.js';
import { CustomerEvent } from '../services/messages.js';
import { SERVICES, TABLES } from '../services/start-service.js';
import { runChaos } from './chaos.js';
import { check } from './check.js';
import { createDemoDatabases } from './demo-databases.js';
import { type Databases, observe } from './observe.js';
import { percentile } from './percentile.js';
import { planTransactions } from './plan.js';
import { seededRandom } from './random.js';
import { type DemoReport, REPORT_SCHEMA_VERSION } from './report.js';
import { Supervisor } from './supervisor.js';
import { runWorkload } from './workload.js';

export interface DemoOptions {
  /**
   * `event` (the default): Customer Profile's events, choreographed through outboxes and inboxes.
   * `orchestrated`: sagas that an orchestrator runs by calling the services over HTTP (see
   * `orchestrated/run-orchestrated-demo.ts`).
   */
  readonly pattern?: DemoPattern;
  /** Business transactions to run. Default 1000; at least 10 with chaos. */
  readonly transactions?: number;
  /** Seeds the plan and the faults. Default: a random seed (printed in the report). */
  readonly seed?: number;
  /** Kill services, take the gateway down, inject bad messages. Default true. */
  readonly chaos?: boolean;
  /** An empty (or new) folder for the databases and logs; kept. Default: a temporary folder, removed when consistent. */
  readonly dir?: string;
  /**
   * A PostgreSQL server (`postgres://…`) on which to create a fresh database per service instead
   * of SQLite files; dropped after the run unless it is kept (`dir` given, or not consistent).
   */
  readonly postgres?: string;
  /** How long to wait for the system to converge after the last transaction. Default 120000 ms. */
  readonly convergeTimeoutMs?: number;
  readonly onProgress?: (progress: DemoProgress) => void;
}

/** The eventual-consistency patterns the demo can run. */
export const DEMO_PATTERNS = ['event', 'orchestrated'] as const;
export type DemoPattern = (typeof DEMO_PATTERNS)[number];

export interface DemoProgress {
  readonly phase: 'starting' | 'running' | 'converging' | 'done';
  /** Steps of the plan done: the transactions, and with chaos the faulty producer's bad event. */
  readonly done: number;
  readonly total: number;
}

/**
 * Runs the demo and resolves with its report (`consistent` says whether it passed).
 *
 * @throws ConvergeError `CONFIG_INVALID` for a bad option (nothing is started then).
 */
export async function runDemo(options: DemoOptions = {}): Promise<DemoReport> {
  const started = Date.now();
  const chaos = options.chaos ?? true;
  const transactions = options.transactions ?? 1000;
  const seed = options.seed ?? Math.floor(Math.random() * 2 ** 31);
  const pattern = options.pattern ?? 'event';
  validate(transactions, seed, chaos, pattern);
  const dir = prepareDir(options.dir);
  if (pattern === 'orchestrated') {
    return runOrchestratedDemo({ options, seed, transactions, chaos, dir, startedAt: started });
  }
  const random = seededRandom(seed);
  const plan = planTransactions(random, transactions, chaos);
  const progress = (phase: DemoProgress['phase'], done: number) =>
    options.onProgress?.({ phase, done, total: plan.steps.length });
  progress('starting', 0);
  const names = [...SERVICES, 'broker'] as const;
  const databases = await createDemoDatabases(dir, names, options.postgres);
  const { url } = databases;
  const portFile = join(dir, 'customer-profile.port');
  const gatewayDownFile = join(dir, 'payment-gateway.down');
  mkdirSync(join(dir, 'logs'), { recursive: true });
  // Schemas first, so the services do not race to create the broker's tables.
  const storages = {} as Record<keyof Databases, Storage>;
  for (const name of names) {
    const tables = name === 'broker' ? [] : TABLES[name];
    storages[name] = (await openServiceDatabase(url(name), `demo ${name}`, tables)).storage;
  }
  const supervisor = new Supervisor(
    SERVICES.map((name) => ({
      name,
      env: {
        SYSOPS_DATABASE_URL: url(name),
        SYSOPS_BROKER_URL: url('broker'),
        SYSOPS_PORT_FILE: portFile,
        SYSOPS_GATEWAY_DOWN_FILE: gatewayDownFile,
      },
    })),
    join(dir, 'logs'),
  );
  const broker = createSqlLogTransport({ storage: storages.broker });
  // The faulty producer deploy: an event whose payload breaks its schema, committed like any other.
  const faultyProducer = createOutbox({ storage: storages['customer-profile'], source: 'customer-profile' });
  let keep = true;
  try {
    await supervisor.startAll();
    progress('running', 0);
    let done = 0;
    let workloadDone = false;
    // Spread over long enough for every planned kill to land during traffic (about one per 0.7 s).
    const maxKills = chaos ? Math.min(20, Math.max(4, Math.floor(transactions / 50))) : 0;
    const durationMs = chaos ? Math.max(5_000, maxKills * 700) : 0;
    const chaosRun = chaos
      ? runChaos({
          random,
          supervisor,
          broker,
          gatewayDownFile,
          maxKills,
          outageMs: 2_500,
          progress: () => done / plan.steps.length,
          workloadDone: () => workloadDone,
        })
      : null;
    const workload = await runWorkload({
      plan,
      portFile,
      concurrency: 8,
      ratePerSecond: chaos ? (plan.steps.length * 1000) / durationMs : Number.POSITIVE_INFINITY,
      deadline: Date.now() + 30 * 60_000,
      injectBadEvent: (customerId) =>
        storages['customer-profile'].transaction(async (tx) => {
          await faultyProducer.append(tx, [
            { type: CustomerEvent.UNSUBSCRIBED, key: customerId, data: { customerId: 4711 } },
          ]);
        }),
      onStepDone: () => {
        done += 1;
        progress('running', done);
      },
    }).finally(() => {
      workloadDone = true;
    });
    const faults = (await chaosRun) ?? {
      kills: {},
      dependencyOutages: 0,
      malformedInjected: 0,
      lastFaultEndedAt: 0,
    };
    progress('converging', plan.steps.length);

    const deadline = Date.now() + (options.convergeTimeoutMs ?? 120_000);
    let convergedAt = Date.now();
    for (;;) {
      const verdict = check(await observe(storages, databases.kind), plan, faults.malformedInjected);
      convergedAt = Date.now();
      if (verdict.ok || convergedAt > deadline) break;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    await supervisor.stopAll();
    const observation = await observe(storages, databases.kind);
    const verdict = check(observation, plan, faults.malformedInjected);
    progress('done', plan.steps.length);
    const times = [...verdict.consistencyTimesMs].sort((a, b) => a - b);
    const count = (counts: Record<string, number>) => Object.values(counts).reduce((a, b) => a + b, 0);
    const killTotal = count(faults.kills) + count(supervisor.seamCrashes);
    const badMessages = chaos ? 2 + faults.malformedInjected : 0;
    const consistent = verdict.ok && workload.rejected === 0 && supervisor.unexpectedExits.length === 0;
    keep = !consistent || options.dir !== undefined;
    return {
      schemaVersion: REPORT_SCHEMA_VERSION,
      pattern: 'event',
      databases: databases.kind,
      seed,
      dir,
      transactions,
      customers: plan.customers,
      produced: verdict.produced,
      delivered: observation.log.entries,
      duplicateDeliveries: observation.log.entries - observation.log.distinct,
      duplicateEffects: verdict.duplicateEffects,
      lost: verdict.lost,
      orderViolations: verdict.orderViolations,
      stateMismatches: verdict.stateMismatches,
      deadLetters: verdict.deadLetters,
      unexpectedDeadLetters: verdict.unexpectedDeadLetters,
      awaitingDecision: verdict.awaitingDecision,
      automaticRedrives: verdict.automaticRedrives,
      manualActions: verdict.manualActions,
      faultsInjected: {
        kills: faults.kills,
        seamKills: { ...supervisor.seamCrashes },
        dependencyOutages: faults.dependencyOutages,
        badMessages,
        total: killTotal + faults.dependencyOutages + badMessages,
      },
      timeToConsistencyMs: {
        p50: percentile(times, 0.5),
        p99: percentile(times, 0.99),
        afterLastFault: chaos ? Math.max(0, convergedAt - faults.lastFaultEndedAt) : 0,
      },
      retriedCommands: workload.retriedSends,
      unexpectedExits: [...supervisor.unexpectedExits],
      consistent,
      seconds: Number(((Date.now() - started) / 1000).toFixed(1)),
    };
  } finally {
    await supervisor.stopAll();
    await broker.close();
    for (const storage of Object.values(storages)) await storage.close();
    if (!keep) await databases.drop();
  }
}

/** Removes the demo's folder (the CLI does it after a consistent run in a temporary folder). */
export function removeDemoDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

function prepareDir(dir: string | undefined): string {
  if (dir === undefined) return mkdtempSync(join(tmpdir(), 'converge-demo-'));
  const path = resolve(dir);
  mkdirSync(path, { recursive: true });
  if (readdirSync(path).length > 0) {
    throw new ConvergeError(
      'CONFIG_INVALID',
      `The demo folder ${path} is not empty; name a new or empty folder with --dir (the demo checks every database it finds there from scratch).`,
      { details: { field: 'dir' } },
    );
  }
  return path;
}

function validate(transactions: number, seed: number, chaos: boolean, pattern: string): void {
  if (!(DEMO_PATTERNS as readonly string[]).includes(pattern)) {
    throw new ConvergeError(
      'CONFIG_INVALID',
      `--pattern must be one of ${DEMO_PATTERNS.join(', ')} (got '${pattern}').`,
      { details: { field: 'pattern' } },
    );
  }
  const least = chaos ? 10 : 1;
  if (!Number.isSafeInteger(transactions) || transactions < least || transactions > 1_000_000) {
    throw new ConvergeError(
      'CONFIG_INVALID',
      `--transactions must be a whole number from ${least} to 1000000${chaos ? ' with chaos' : ''} (got ${transactions}).`,
      { details: { field: 'transactions' } },
    );
  }
  if (!Number.isSafeInteger(seed) || seed < 0 || seed >= 2 ** 32) {
    throw new ConvergeError(
      'CONFIG_INVALID',
      `--seed must be a whole number from 0 to 4294967295 (got ${seed}).`,
      {
        details: { field: 'seed' },
      },
    );
  }
}
