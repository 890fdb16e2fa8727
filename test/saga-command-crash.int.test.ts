/**
 * Crash points of the saga orchestrator when its steps are command messages (`commandCall`), the
 * counterpart of saga-crash.int.test.ts for HTTP steps. For each step k of a three-step command
 * saga and each seam — before persisting the step's start, after persisting it before the command
 * is sent, after the reply arrived before it is recorded as the step's result, and in the middle
 * of compensation — an orchestrator child process (its command channel, orchestrator and fault
 * injector) runs one saga and is killed with SIGKILL the k-th time it reaches that seam; a new
 * process takes the saga (and the reply consumer) over once their leases lapse, and finishes it.
 * One more seam is the participant's: this process kills the orchestrator as the participant
 * starts applying the saga's k-th command, so the command is sent and its reply not yet written.
 *
 * The participant (`billing`: inbox + `commandHandler` + relay) and the relay of the orchestrating
 * service's outbox run in this process. Then, from the participant's own database: the saga ended
 * completed or compensated; each effect was applied exactly once (a command sent again after the
 * takeover was answered from a recorded reply, the orchestrator's or the participant's, without
 * running the effect again); compensations ran only for applied steps, in reverse order.
 *
 * The children import the built packages: `npm test` builds them first (`pretest`); run
 * `npm run build` before running this file alone.
 *
 * Each case is its own orchestrating service in one shared database: a definition of its own
 * name (so the cases run at once without claiming each other's sagas) and a reply type of its own
 * (so each child consumes its own replies, as a service's instances share their reply consumer).
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type CommandRequester,
  compensationIdempotencyKey,
  createOrchestrator,
  createRelay,
  createSqlLogTransport,
  FaultPoint,
  type Relay,
  type SagaRecord,
  type Storage,
  stepIdempotencyKey,
  type Transport,
} from '../packages/core/src/index.js';
import { availableBackends, type TestDatabases } from './support/backends.js';
import {
  BILLING_COMMANDS,
  type BillingParticipant,
  type BillingStep,
  createBillingParticipant,
} from './support/billing-participant.js';
import { type ChildEnd, runChildProcess } from './support/child-process.js';
import { type CommandSagaInput, commandSaga } from './support/command-testbed.js';

const CHILD = join(import.meta.dirname, 'saga-command-crash', 'orchestrator-child.mjs');
const LEASE_MS = 1_000;
/** Cases run at once (each is one child process at a time). */
const PARALLEL = 6;
const STEPS: readonly BillingStep[] = ['reserve', 'charge', 'invoice'];
/**
 * Not a fault point of the orchestrator: this process kills it as the participant starts applying
 * the saga's k-th command.
 */
const COMMAND_SENT = 'command-sent';
/**
 * The reply consumer's lease in the `COMMAND_SENT` cases: longer than the sagas' (as by default,
 * 15 s against 10 s), so the new process, which takes the saga over first, re-issues the step
 * before it can read the reply to the first command and sends the command again: the participant
 * answers it from its stored reply. (In the other cases the replies' lease lapses with the saga's,
 * and the new process may find the reply recorded and reuse it.)
 */
const HELD_REPLY_LEASE_MS = 5 * LEASE_MS;

interface CrashCase {
  readonly seam: FaultPoint | typeof COMMAND_SENT;
  /**
   * The reach of the seam to die at: step k forward; the k-th compensation (charge's, then
   * reserve's); the k-th command the participant applies.
   */
  readonly k: number;
  /** What the participant does with each step's command; named in the case's name. */
  readonly script: { readonly label: string; readonly steps: CommandSagaInput['script'] };
}

const APPLY = { label: 'applies', steps: {} };
const REJECT = { label: 'rejects-invoice', steps: { invoice: 'reject' } } as const;
const FAIL_ONCE = { label: 'fails-charge-once', steps: { charge: 'fail:1' } } as const;
const FORWARD_SEAMS = [
  FaultPoint.SAGA_BEFORE_STEP_STARTED,
  FaultPoint.SAGA_AFTER_STEP_STARTED,
  FaultPoint.SAGA_AFTER_CALL_BEFORE_RESULT,
];
const CASES: readonly CrashCase[] = [
  // First, so that their longer wait for the replies overlaps the other cases'.
  { seam: COMMAND_SENT, k: 2, script: APPLY },
  { seam: COMMAND_SENT, k: 3, script: REJECT },
  { seam: COMMAND_SENT, k: 4, script: REJECT },
  ...FORWARD_SEAMS.flatMap((seam) => [1, 2, 3].map((k) => ({ seam, k, script: APPLY }))),
  // The refusal's reply is final: after the takeover it is reused, or the participant sends it again.
  { seam: FaultPoint.SAGA_AFTER_CALL_BEFORE_RESULT, k: 3, script: REJECT },
  ...[1, 2].map((k) => ({ seam: FaultPoint.SAGA_MID_COMPENSATION, k, script: REJECT })),
  // A `failed` reply is per attempt: the attempt the new process re-issues runs the effect again.
  { seam: FaultPoint.SAGA_AFTER_CALL_BEFORE_RESULT, k: 2, script: FAIL_ONCE },
];
const nameOf = (c: CrashCase) => `crash.${c.seam}.${c.k}.${c.script.label}`;
const compensates = (c: CrashCase) => c.script === REJECT;

/** The starting process runs no saga (its orchestrator is never started), so it sends no command. */
const NO_REQUESTER: CommandRequester = {
  request: () => Promise.reject(new Error('the test process sends no commands: the child runs the saga')),
};

const backends = await availableBackends();

describe.each(backends)('command saga orchestrator crash points on $name', (backend) => {
  let databases: TestDatabases;
  let orders: Storage;
  let transport: Transport;
  let relay: Relay;
  let participant: BillingParticipant;
  /** Per saga: the child to kill when the participant starts applying the saga's `command`-th command. */
  const armed = new Map<string, { child: ChildProcess; command: number }>();
  const commandsApplied = new Map<string, number>();
  let workDir = '';
  const children = new Set<ChildProcess>();

  beforeAll(async () => {
    databases = (await backend.create())!;
    const broker = await databases.open('broker');
    orders = await databases.open('orders');
    transport = createSqlLogTransport({ storage: broker, pollIntervalMs: 20 });
    relay = createRelay({ storage: orders, transport, pollIntervalMs: 20 });
    await relay.start();
    participant = await createBillingParticipant({
      backend,
      storage: await databases.open('billing'),
      transport,
      onEffect(message) {
        const sagaId = message.correlationid ?? '';
        const applied = (commandsApplied.get(sagaId) ?? 0) + 1;
        commandsApplied.set(sagaId, applied);
        const kill = armed.get(sagaId);
        if (kill?.command !== applied) return;
        armed.delete(sagaId);
        kill.child.kill('SIGKILL');
      },
    });
    await participant.start();
    workDir = mkdtempSync(join(tmpdir(), 'converge-saga-command-crash-'));
  });

  afterAll(async () => {
    for (const child of children) child.kill('SIGKILL');
    await participant?.stop();
    await relay?.stop();
    await transport?.close();
    await databases?.cleanup();
    if (workDir !== '') rmSync(workDir, { recursive: true, force: true });
  });

  /**
   * Runs the child once; resolves with how it ended (bounded: killed after 90 s). With
   * `killAtCommand`, it is killed as the participant starts applying that command of its saga.
   */
  async function runChild(env: Record<string, string>, killAtCommand?: number): Promise<ChildEnd> {
    const { child, ended } = runChildProcess(CHILD, env, children);
    if (killAtCommand !== undefined) armed.set(env.SAGA_ID!, { child, command: killAtCommand });
    try {
      return await ended;
    } finally {
      armed.delete(env.SAGA_ID!);
    }
  }

  async function runCase(crash: CrashCase): Promise<SagaRecord> {
    const definition = commandSaga(NO_REQUESTER, { name: nameOf(crash), steps: STEPS });
    const starter = createOrchestrator({ storage: orders, definitions: [definition] });
    const { sagaId } = await starter.startSaga(definition, {
      customer: nameOf(crash),
      ...(crash.script.steps === undefined ? {} : { script: crash.script.steps }),
    });
    const env = {
      DATABASE_URL: databases.url('orders'),
      BROKER_URL: databases.url('broker'),
      SAGA_ID: sagaId,
      SAGA_NAME: nameOf(crash),
      STEPS: JSON.stringify(STEPS.map((step) => ({ step, ...BILLING_COMMANDS[step] }))),
      REPLY_TO: `orders.reply.${nameOf(crash)}`,
      LEASE_MS: String(LEASE_MS),
      REPLY_LEASE_MS: String(crash.seam === COMMAND_SENT ? HELD_REPLY_LEASE_MS : LEASE_MS),
      CRASH_LOG: join(workDir, `${nameOf(crash)}.log`),
    };
    const killed =
      crash.seam === COMMAND_SENT
        ? await runChild({ ...env, CRASH_AT: '' }, crash.k)
        : await runChild({ ...env, CRASH_AT: `${crash.seam}:${crash.k}` });
    expect(killed.signal, `${nameOf(crash)} was to die at its seam:\n${killed.stderr}`).toBe('SIGKILL');
    if (crash.seam !== COMMAND_SENT) expect(readFileSync(env.CRASH_LOG, 'utf8')).toContain(crash.seam);
    const restarted = await runChild({ ...env, CRASH_AT: '' });
    expect(restarted, `${nameOf(crash)} after the restart`).toMatchObject({ code: 0, signal: null });
    return (await orders.sagas.get(sagaId))!;
  }

  /**
   * How often the participant's effect function is to run, by idempotency key: once for each
   * command it answers (a refusal too), plus the scripted failures.
   */
  function expectedRuns(crash: CrashCase, sagaId: string): Record<string, number> {
    const runs: Record<string, number> = {};
    for (const step of STEPS) {
      const script = crash.script.steps?.[step];
      runs[stepIdempotencyKey(sagaId, step)] =
        1 + (script?.startsWith('fail:') ? Number(script.slice(5)) : 0);
    }
    if (compensates(crash))
      for (const step of ['charge', 'reserve']) runs[compensationIdempotencyKey(sagaId, step)] = 1;
    return runs;
  }

  it(`ends every saga completed or compensated, each effect once, after a SIGKILL at each seam of each command step (${CASES.length} cases)`, async () => {
    const records = new Map<CrashCase, SagaRecord>();
    // PARALLEL lanes, each taking the next case when its last one is done.
    const waiting = [...CASES];
    const lane = async () => {
      for (let crash = waiting.shift(); crash !== undefined; crash = waiting.shift())
        records.set(crash, await runCase(crash));
    };
    await Promise.all(Array.from({ length: PARALLEL }, lane));
    const effects = await participant.effects();
    for (const [crash, record] of records) {
      const mine = effects.filter((e) => e.sagaId === record.id).map((e) => `${e.kind} ${e.step}`);
      // The invoice refused: only the applied steps are undone, in reverse order.
      const expected = compensates(crash)
        ? { status: 'compensated', mine: ['apply reserve', 'apply charge', 'undo charge', 'undo reserve'] }
        : { status: 'completed', mine: ['apply reserve', 'apply charge', 'apply invoice'] };
      expect({ case: nameOf(crash), status: record.status, mine }).toEqual({
        case: nameOf(crash),
        ...expected,
      });
      // A command sent again was answered with a recorded reply, not by running the effect again.
      const runs = [...participant.handled].filter(([key]) => key.startsWith(`${record.id}:`));
      expect({ case: nameOf(crash), runs: Object.fromEntries(runs) }).toEqual({
        case: nameOf(crash),
        runs: expectedRuns(crash, record.id),
      });
      // A kill after the start was recorded leaves the attempt in flight: the new process re-issued
      // it with the same idempotency key. (More re-issues are legitimate: on a loaded machine a
      // lease can lapse and be claimed again.)
      if (crash.seam !== FaultPoint.SAGA_BEFORE_STEP_STARTED) {
        const log = await orders.sagas.transitions(record.id);
        const reissued = log.filter((t) => (t.detail as { reissue?: boolean } | null)?.reissue === true);
        expect(reissued.length, `${nameOf(crash)} re-issued its in-flight call`).toBeGreaterThanOrEqual(1);
      }
    }
  }, 300_000);
});
