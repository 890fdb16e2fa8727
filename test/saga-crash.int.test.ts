/**
 * Systematic crash points of the saga orchestrator (issue 5). For each step k and each seam —
 * before persisting the step's start, after persisting it before the call, after the call before
 * recording its result, and in the middle of compensation (after a compensation's call, before
 * its result) — an orchestrator child process runs one saga and is killed with SIGKILL the k-th
 * time it reaches that seam; a new process is started and finishes the saga. Then, from the
 * participants' own databases: the saga ended completed or compensated; each participant effect
 * was applied exactly once; compensations ran only for completed steps, in reverse order.
 *
 * Each case has a definition of its own name, registered alone by its child, so the cases run at
 * once against one orchestrator database without claiming each other's sagas.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createOrchestrator, FaultPoint, type SagaRecord } from '../packages/core/src/index.js';
import { availableBackends } from './support/backends.js';
import { runChildProcess } from './support/child-process.js';
import { createSagaTestbed, expectEffectsOnce, type SagaTestbed } from './support/saga-testbed.js';

const CHILD = join(import.meta.dirname, 'saga-crash', 'orchestrator-child.mjs');
const LEASE_MS = 1_000;
/** Cases run at once (each is one child process at a time). */
const PARALLEL = 6;

interface CrashCase {
  readonly seam: FaultPoint;
  /** The reach of the seam to die at: step k forward; the k-th compensation (contract, then profile). */
  readonly k: number;
  readonly compensates: boolean;
}

const FORWARD_SEAMS = [
  FaultPoint.SAGA_BEFORE_STEP_STARTED,
  FaultPoint.SAGA_AFTER_STEP_STARTED,
  FaultPoint.SAGA_AFTER_CALL_BEFORE_RESULT,
];
const CASES: readonly CrashCase[] = [
  ...FORWARD_SEAMS.flatMap((seam) => [1, 2, 3].map((k) => ({ seam, k, compensates: false }))),
  ...[1, 2].map((k) => ({ seam: FaultPoint.SAGA_MID_COMPENSATION, k, compensates: true })),
];
const nameOf = (c: CrashCase) => `crash.${c.seam}.${c.k}`;

const backends = await availableBackends();

describe.each(backends)('saga orchestrator crash points on $name', (backend) => {
  let bed: SagaTestbed;
  let workDir = '';
  const children = new Set<ChildProcess>();

  beforeAll(async () => {
    bed = await createSagaTestbed(backend);
    workDir = mkdtempSync(join(tmpdir(), 'converge-saga-crash-'));
  });

  afterAll(async () => {
    for (const child of children) child.kill('SIGKILL');
    await bed?.close();
    if (workDir !== '') rmSync(workDir, { recursive: true, force: true });
  });

  /** Runs the child once; resolves with how it ended (bounded: killed after 90 s). */
  const runChild = (env: Record<string, string>) => runChildProcess(CHILD, env, children).ended;

  async function runCase(crash: CrashCase): Promise<SagaRecord> {
    const definition = bed.saga({ name: nameOf(crash) });
    const starter = createOrchestrator({ storage: bed.storage, definitions: [definition] });
    const script = crash.compensates ? { billing: 'refuse' as const } : {};
    const { sagaId } = await starter.startSaga(definition, { customer: nameOf(crash), script });
    const env = {
      DATABASE_URL: bed.databases.url('orchestrator'),
      SAGA_ID: sagaId,
      SAGA_NAME: nameOf(crash),
      PARTICIPANTS: JSON.stringify(bed.participants.map((p) => p.url)),
      LEASE_MS: String(LEASE_MS),
      CRASH_LOG: join(workDir, `${nameOf(crash)}.log`),
    };
    const killed = await runChild({ ...env, CRASH_AT: `${crash.seam}:${crash.k}` });
    expect(killed.signal, `${nameOf(crash)} was to die at its fault point:\n${killed.stderr}`).toBe(
      'SIGKILL',
    );
    expect(readFileSync(env.CRASH_LOG, 'utf8')).toContain(crash.seam);
    const restarted = await runChild({ ...env, CRASH_AT: '' });
    expect(restarted, `${nameOf(crash)} after the restart`).toMatchObject({ code: 0, signal: null });
    return (await bed.storage.sagas.get(sagaId))!;
  }

  it(`ends every saga completed or compensated, each effect once, after a SIGKILL at each seam of each step (${CASES.length} cases)`, async () => {
    const records = new Map<CrashCase, SagaRecord>();
    for (let i = 0; i < CASES.length; i += PARALLEL) {
      const batch = CASES.slice(i, i + PARALLEL);
      const done = await Promise.all(batch.map((crash) => runCase(crash)));
      for (const [j, crash] of batch.entries()) records.set(crash, done[j]!);
    }
    const effects = await bed.effects();
    expectEffectsOnce(effects, [...records.values()]);
    for (const [crash, record] of records) {
      const mine = effects.filter((e) => e.sagaId === record.id).map((e) => `${e.kind} ${e.step}`);
      if (crash.compensates) {
        // billing refused: only the completed steps are undone, in reverse order.
        expect({ case: nameOf(crash), status: record.status, mine }).toEqual({
          case: nameOf(crash),
          status: 'compensated',
          mine: ['apply profile', 'apply contract', 'undo contract', 'undo profile'],
        });
      } else {
        expect({ case: nameOf(crash), status: record.status, mine }).toEqual({
          case: nameOf(crash),
          status: 'completed',
          mine: ['apply profile', 'apply contract', 'apply billing'],
        });
      }
      // A kill after the start was recorded leaves the attempt in flight: the new process
      // re-issued it with the same idempotency key (and the participant answered from its record).
      // (More re-issues are legitimate: on a loaded machine a lease can lapse and be claimed again.)
      if (crash.seam !== FaultPoint.SAGA_BEFORE_STEP_STARTED) {
        const log = await bed.storage.sagas.transitions(record.id);
        const reissued = log.filter((t) => (t.detail as { reissue?: boolean } | null)?.reissue === true);
        expect(reissued.length, `${nameOf(crash)} re-issued its in-flight call`).toBeGreaterThanOrEqual(1);
      }
    }
  }, 300_000);
});
