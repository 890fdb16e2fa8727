/**
 * Randomised sagas (issue 5): many three-step sagas run by two orchestrator instances — real child
 * processes on one orchestrator database — against three participants (real HTTP servers on
 * 127.0.0.1, each with its own database and an effect table without unique constraints), while
 * participants fail at random (503s for a while, 422 refusals that force compensation, answers
 * later than the step's timeout, compensations that fail for a while or for good) and the
 * instances are killed with SIGKILL at random times and started again. Then, for every saga:
 * it ended completed, compensated or needs-attention (with a reason naming the step and its
 * error); each participant effect and each compensation happened at most once; a completed saga
 * has all its effects in force, a compensated one none, undone in reverse order and only for steps
 * that may have applied; its transition log has gap-free seq and non-decreasing fencing tokens.
 *
 * Seeded: the seed is printed, and `CONVERGE_SAGA_RANDOM_SEED=<seed>` repeats the run's scripts
 * and kill plan (the interleaving of real processes is the machine's). The CI tier runs 1,000
 * sagas on PostgreSQL and fewer on SQLite (two processes share one SQLite file, one writer at a
 * time); `npm run test:full` (CONVERGE_CRASH_TIER=full) runs 10,000 and 2,000.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createOrchestrator, defineSaga, type Storage } from '../packages/core/src/index.js';
import { waitFor } from '../packages/core/src/testing/wait-for.js';
import { duplicateEffects, logProblems, sagaProblems } from './saga-random/random-checks.js';
import { type RandomParticipant, startRandomParticipant } from './saga-random/random-participant.js';
import {
  drawKills,
  drawSagaInput,
  type PlannedKill,
  runSeed,
  STEPS,
  seededRandom,
  TIMINGS,
} from './saga-random/random-plan.js';
import { availableBackends, type TestDatabases } from './support/backends.js';
import { ordinal } from './support/saga-participants.js';

const CHILD = join(import.meta.dirname, 'saga-random', 'orchestrator-child.mjs');
const FULL = process.env.CONVERGE_CRASH_TIER === 'full';
const TIERS = {
  // concurrency: sagas each instance runs at once. SQLite has one writer: more only queues there.
  postgres: { sagas: FULL ? 10_000 : 1_000, kills: FULL ? 40 : 6, concurrency: 24 },
  sqlite: { sagas: FULL ? 2_000 : 300, kills: FULL ? 12 : 3, concurrency: 12 },
} as const;
/** How long every saga may take to settle after the last one started (a bound, not a speed check). */
const SETTLE_MS = FULL ? 900_000 : 300_000;

const SEED = runSeed();
console.log(`saga-random: seed ${SEED} (repeat with CONVERGE_SAGA_RANDOM_SEED=${SEED})`);

/** The saga as the starter knows it: the children run the same name, version and steps over HTTP. */
const SHAPE = STEPS.reduce(
  (builder, step) => builder.step(step, { action: async () => null, compensate: async () => null }),
  defineSaga('random', 1),
).build();

const backends = await availableBackends();

describe.each(backends)('randomised sagas on $name', (backend) => {
  const tier = TIERS[backend.name];
  let databases: TestDatabases;
  let storage: Storage;
  const participants: RandomParticipant[] = [];
  const instances: (Instance | null)[] = [null, null];

  beforeAll(async () => {
    databases = (await backend.create())!;
    storage = await databases.open('orchestrator');
    const counter = ordinal();
    for (const step of STEPS)
      participants.push(await startRandomParticipant(step, await databases.open(step), backend, counter));
  });

  afterAll(async () => {
    for (const instance of instances) instance?.child.kill('SIGKILL');
    await Promise.all(instances.map((instance) => instance?.exited));
    for (const participant of participants) await participant.close();
    await databases?.cleanup();
  });

  function launch(index: 0 | 1, generation: number): Instance {
    const instance = startInstance({
      DATABASE_URL: databases.url('orchestrator'),
      PARTICIPANTS: JSON.stringify(participants.map((p) => p.url)),
      STEP_TIMEOUT_MS: String(TIMINGS.stepTimeoutMs),
      MAX_ATTEMPTS: String(TIMINGS.maxAttempts),
      LEASE_MS: String(TIMINGS.leaseMs),
      CONCURRENCY: String(tier.concurrency),
      ORCHESTRATOR_ID: `random-${index}-${generation}`,
    });
    instances[index] = instance;
    return instance;
  }

  const unsettled = async () => {
    const counts = await storage.sagas.countByStatus();
    return counts.running + counts.compensating;
  };

  /** Kills per `plan` while sagas are unsettled, restarting each instance; returns the kills made. */
  async function chaos(plan: readonly PlannedKill[]): Promise<number> {
    let killed = 0;
    for (const [i, kill] of plan.entries()) {
      await sleep(kill.afterMs);
      if ((await unsettled()) === 0) break;
      const victim = instances[kill.instance]!;
      victim.child.kill('SIGKILL');
      const ended = await victim.exited;
      expect(ended.signal, `instance ${kill.instance} was to die by SIGKILL:\n${victim.stderr()}`).toBe(
        'SIGKILL',
      );
      killed += 1;
      await sleep(kill.restartAfterMs);
      launch(kill.instance, i + 1);
    }
    return killed;
  }

  it(
    `settles ${tier.sagas} sagas with random participant failures and up to ${tier.kills} SIGKILLs of two orchestrator instances, each effect at most once`,
    async () => {
      const random = seededRandom(SEED + (backend.name === 'postgres' ? 1 : 2));
      const inputs = Array.from({ length: tier.sagas }, (_, n) => drawSagaInput(random, n, TIMINGS));
      const plan = drawKills(random, tier.kills);
      await Promise.all([launch(0, 0).started, launch(1, 0).started]);

      const t0 = Date.now();
      const starter = createOrchestrator({ storage, definitions: [SHAPE] });
      const ids = await mapLimit(inputs, 16, async (input) => (await starter.startSaga(SHAPE, input)).sagaId);
      const startedMs = Date.now() - t0;
      const killed = await chaos(plan);
      await waitFor('every saga to settle', async () => (await unsettled()) === 0, SETTLE_MS, 100);
      const settledMs = Date.now() - t0;
      await Promise.all(instances.map((instance) => instance!.stop()));
      for (const participant of participants) await participant.idle(10_000);

      const records = await mapLimit(ids, 8, async (id) => (await storage.sagas.get(id))!);
      const logs = await mapLimit(ids, 8, (id) => storage.sagas.transitions(id));
      const effects = (await Promise.all(participants.map((p) => p.effects())))
        .flat()
        .sort((a, b) => a.n - b.n);
      const bySaga = groupBy(effects, (e) => e.sagaId);
      const problems = [
        ...duplicateEffects(effects),
        ...records.flatMap((record, i) => [
          ...logProblems(record, logs[i]!),
          ...sagaProblems(record, logs[i]!, bySaga.get(record.id) ?? []),
        ]),
      ];
      const ended = countBy(records, (r) => r.status);
      const reissued = logs
        .flat()
        .filter((t) => (t.detail as { reissue?: boolean } | null)?.reissue === true);
      // Why sagas need attention: scripted compensation failures, or timeouts of a loaded machine.
      const stuckBy = countBy(
        records.filter((r) => r.status === 'needs-attention'),
        (r) => /\(last: (\w+)/.exec(r.reason ?? '')?.[1] ?? 'unknown',
      );
      console.log(
        `saga-random on ${backend.name}: seed ${SEED}, ${tier.sagas} sagas, ${killed} kills (${reissued.length} calls left in flight re-issued), ended ${JSON.stringify(ended)} (needing attention after ${JSON.stringify(stuckBy)}), ${effects.length} effect rows; all started after ${startedMs} ms, settled after ${settledMs} ms`,
      );
      expect(problems.slice(0, 10), `${problems.length} problems (seed ${SEED})`).toEqual([]);
      // The run exercised what it claims to: kills orphaned calls in flight, and each kind of ending occurred.
      expect(killed, 'orchestrator instances killed while sagas ran').toBeGreaterThan(0);
      expect(reissued.length, 'calls left in flight by a killed instance, re-issued').toBeGreaterThan(0);
      expect(ended.completed, 'sagas completed').toBeGreaterThan(0);
      expect(ended.compensated, 'sagas compensated').toBeGreaterThan(0);
      // ANCHORS[2] ends needing attention on every path: the profile's compensation is refused for good.
      expect(records[2]).toMatchObject({
        status: 'needs-attention',
        reason: expect.stringContaining('The compensation of step '),
      });
    },
    SETTLE_MS + 300_000,
  );
});

interface Instance {
  readonly child: ChildProcess;
  /** Resolves once the instance is claiming sagas. */
  readonly started: Promise<void>;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stderr(): string;
  /** SIGTERM (graceful stop), SIGKILL after 15 s. */
  stop(): Promise<void>;
}

function startInstance(env: Record<string, string>): Instance {
  const child = spawn(process.execPath, [CHILD], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const started = new Promise<void>((resolve, reject) => {
    child.stdout?.on('data', (chunk: Buffer) => {
      if (chunk.toString().includes('started')) resolve();
    });
    void exited.then(({ code, signal }) =>
      reject(new Error(`orchestrator instance ended (${code ?? signal}) before it started:\n${stderr}`)),
    );
  });
  started.catch(() => undefined);
  return {
    child,
    started,
    exited,
    stderr: () => stderr,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const limit = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(limit);
    },
  };
}

async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  work: (item: T) => Promise<R>,
): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await work(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

function groupBy<T>(items: readonly T[], key: (item: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const list = groups.get(key(item)) ?? [];
    list.push(item);
    groups.set(key(item), list);
  }
  return groups;
}

function countBy<T>(items: readonly T[], key: (item: T) => string): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const item of items) counts[key(item)] = (counts[key(item)] ?? 0) + 1;
  return counts;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
