/**
 * `converge demo --pattern orchestrated`: the orchestrated _customer unsubscribes_ under fire.
 * Puts the planned customers' subscriptions into the three participants' own databases, starts
 * the participants and two orchestrator instances (one database between them) as their own
 * processes, asks the orchestrator to start one saga per customer while the chaos kills
 * orchestrator instances and participants and takes the payment gateway down; restarts what it
 * killed, waits until every saga has ended (or the time runs out), and reports in the event demo's
 * shape plus the sagas' counts by status.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Storage } from '@converge/core';
import { createDemoDatabases, type DemoDatabases } from '../demo/demo-databases.js';
import { percentile } from '../demo/percentile.js';
import { seededRandom } from '../demo/random.js';
import { type DemoReport, REPORT_SCHEMA_VERSION } from '../demo/report.js';
import type { DemoOptions, DemoProgress } from '../demo/run-demo.js';
import { type ServiceSpec, Supervisor } from '../demo/supervisor.js';
import { openServiceDatabase } from '../services/database.js';
import { PARTICIPANTS, type ParticipantName } from './participant-server.js';
import { PARTICIPANT_TABLES, participantPart } from './participants.js';
import { runSagaChaos, type SagaChaosResult } from './saga-chaos.js';
import { checkSagas, type SagaVerdict } from './saga-check.js';
import { observeSagas } from './saga-observe.js';
import { planUnsubscribes, type SagaPlan } from './saga-plan.js';
import { runSagaWorkload, type SagaWorkloadResult } from './saga-workload.js';

const MAIN = join(import.meta.dirname, 'main.js');
const ORCHESTRATOR = 'orchestrator';
const INSTANCES = ['orchestrator-1', 'orchestrator-2'] as const;
type ProcessName = ParticipantName | (typeof INSTANCES)[number];

/** What `runDemo` resolved before handing over. */
export interface OrchestratedDemoRun {
  readonly options: DemoOptions;
  readonly seed: number;
  readonly transactions: number;
  readonly chaos: boolean;
  /** The demo's folder, prepared (new or empty). */
  readonly dir: string;
  readonly startedAt: number;
}

interface Storages {
  readonly orchestrator: Storage;
  readonly participants: Record<ParticipantName, Storage>;
}

/** Runs the orchestrated demo and resolves with its report (`consistent` says whether it passed). */
export async function runOrchestratedDemo(run: OrchestratedDemoRun): Promise<DemoReport> {
  const { options, dir, chaos } = run;
  const random = seededRandom(run.seed);
  const plan = planUnsubscribes(random, run.transactions);
  const progress = (phase: DemoProgress['phase'], done: number) =>
    options.onProgress?.({ phase, done, total: plan.requests.length });
  progress('starting', 0);
  const databases = await createDemoDatabases(dir, [...PARTICIPANTS, ORCHESTRATOR], options.postgres);
  const portsDir = join(dir, 'ports');
  const gatewayDownFile = join(dir, 'payment-gateway.down');
  mkdirSync(portsDir, { recursive: true });
  mkdirSync(join(dir, 'logs'), { recursive: true });
  let storages: Storages | undefined;
  const supervisor = new Supervisor<ProcessName>(
    processSpecs(databases, portsDir, gatewayDownFile),
    join(dir, 'logs'),
  );
  let keep = true;
  try {
    storages = await prepareDatabases(databases, plan, gatewayDownFile);
    await supervisor.startAll();
    progress('running', 0);
    let started = 0;
    let workloadDone = false;
    // Spread the starts over long enough for every planned kill to land while sagas run.
    const maxKills = chaos ? Math.min(20, Math.max(4, Math.floor(run.transactions / 50))) : 0;
    const durationMs = chaos ? Math.max(5_000, maxKills * 700) : 0;
    const chaosRun = chaos
      ? runSagaChaos({
          random,
          supervisor,
          isOrchestrator: (name) => name.startsWith(ORCHESTRATOR),
          gatewayDownFile,
          maxKills,
          outageMs: 2_500,
          progress: () => started / plan.requests.length,
          workloadDone: () => workloadDone,
        })
      : null;
    const workload = await runSagaWorkload({
      plan,
      portsDir,
      instances: INSTANCES,
      ratePerSecond: chaos ? (plan.requests.length * 1000) / durationMs : Number.POSITIVE_INFINITY,
      deadline: Date.now() + 30 * 60_000,
      onStarted: () => {
        started += 1;
        progress('running', started);
      },
    }).finally(() => {
      workloadDone = true;
    });
    const faults = (await chaosRun) ?? { kills: {}, dependencyOutages: 0, lastFaultEndedAt: 0 };
    progress('converging', plan.requests.length);
    const convergedAt = await waitForSagas(
      storages.orchestrator,
      plan.requests.length,
      Date.now() + (options.convergeTimeoutMs ?? 120_000),
    );
    await supervisor.stopAll();
    const verdict = checkSagas(await observeSagas(storages.orchestrator, storages.participants), plan);
    progress('done', plan.requests.length);
    const consistent = verdict.ok && supervisor.unexpectedExits.length === 0;
    keep = !consistent || options.dir !== undefined;
    return report({ run, databases, plan, verdict, workload, faults, supervisor, convergedAt, consistent });
  } finally {
    await supervisor.stopAll();
    if (storages !== undefined) {
      await storages.orchestrator.close();
      for (const storage of Object.values(storages.participants)) await storage.close();
    }
    if (!keep) await databases.drop();
  }
}

function processSpecs(
  databases: DemoDatabases,
  portsDir: string,
  gatewayDownFile: string,
): ServiceSpec<ProcessName>[] {
  const env = (name: string, instance: string) => ({
    SYSOPS_DATABASE_URL: databases.url(name),
    SYSOPS_PORTS_DIR: portsDir,
    SYSOPS_INSTANCE: instance,
    SYSOPS_GATEWAY_DOWN_FILE: gatewayDownFile,
  });
  return [
    ...PARTICIPANTS.map((name) => ({ name, main: MAIN, args: [name], env: env(name, name) })),
    ...INSTANCES.map((name) => ({ name, main: MAIN, args: [ORCHESTRATOR], env: env(ORCHESTRATOR, name) })),
  ];
}

/**
 * Creates every schema before any process starts (so two orchestrator instances do not race to
 * migrate one database) and puts each planned customer's subscription in the participants' tables.
 */
async function prepareDatabases(
  databases: DemoDatabases,
  plan: SagaPlan,
  gatewayDownFile: string,
): Promise<Storages> {
  const orchestrator = (await openServiceDatabase(databases.url(ORCHESTRATOR), 'demo orchestrator', []))
    .storage;
  const participants = {} as Record<ParticipantName, Storage>;
  for (const service of PARTICIPANTS) {
    const db = await openServiceDatabase(
      databases.url(service),
      `demo ${service}`,
      PARTICIPANT_TABLES[service],
    );
    participants[service] = db.storage;
    const part = participantPart(service, db, gatewayDownFile);
    await db.storage.transaction(async (tx) => {
      for (const request of plan.requests) await part.seed(tx, request.customerId, request.plan);
    });
  }
  return { orchestrator, participants };
}

/** Resolves when every planned saga exists and none is running or compensating, or at `deadline`; with the time. */
async function waitForSagas(orchestrator: Storage, planned: number, deadline: number): Promise<number> {
  for (;;) {
    const counts = await orchestrator.sagas.countByStatus();
    const total = Object.values(counts).reduce((a, b) => a + b, 0);
    const now = Date.now();
    if ((total >= planned && counts.running === 0 && counts.compensating === 0) || now > deadline) return now;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

interface ReportParts {
  readonly run: OrchestratedDemoRun;
  readonly databases: DemoDatabases;
  readonly plan: SagaPlan;
  readonly verdict: SagaVerdict;
  readonly workload: SagaWorkloadResult;
  readonly faults: SagaChaosResult;
  readonly supervisor: Supervisor<ProcessName>;
  readonly convergedAt: number;
  readonly consistent: boolean;
}

function report(parts: ReportParts): DemoReport {
  const { run, plan, verdict, faults, supervisor } = parts;
  const times = [...verdict.consistencyTimesMs].sort((a, b) => a - b);
  const count = (counts: Record<string, number>) => Object.values(counts).reduce((a, b) => a + b, 0);
  const refusals = plan.unpriced;
  return {
    schemaVersion: REPORT_SCHEMA_VERSION,
    pattern: 'orchestrated',
    databases: parts.databases.kind,
    seed: run.seed,
    dir: run.dir,
    transactions: run.transactions,
    customers: plan.requests.length,
    produced: 0,
    delivered: 0,
    duplicateDeliveries: 0,
    duplicateEffects: verdict.duplicateEffects,
    lost: verdict.lost,
    orderViolations: verdict.orderViolations,
    stateMismatches: verdict.stateMismatches,
    deadLetters: {},
    unexpectedDeadLetters: [],
    awaitingDecision: { deadLetters: 0, blockedKeys: 0, waitingMessages: 0 },
    automaticRedrives: 0,
    manualActions: verdict.manualActions,
    faultsInjected: {
      kills: faults.kills,
      seamKills: { ...supervisor.seamCrashes },
      dependencyOutages: faults.dependencyOutages,
      badMessages: 0,
      participantRefusals: refusals,
      total: count(faults.kills) + count(supervisor.seamCrashes) + faults.dependencyOutages + refusals,
    },
    timeToConsistencyMs: {
      p50: percentile(times, 0.5),
      p99: percentile(times, 0.99),
      afterLastFault: run.chaos ? Math.max(0, parts.convergedAt - faults.lastFaultEndedAt) : 0,
    },
    retriedCommands: parts.workload.retriedStarts,
    unexpectedExits: [...supervisor.unexpectedExits],
    sagas: verdict.sagas,
    problems: verdict.problems,
    consistent: parts.consistent,
    seconds: Number(((Date.now() - run.startedAt) / 1000).toFixed(1)),
  };
}
