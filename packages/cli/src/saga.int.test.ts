/**
 * `converge saga …` as a real process, on SQLite and PostgreSQL orchestrator databases holding
 * sagas in real states. The states are made the way an orchestrator makes them: the pure state
 * machine's writes recorded through the SagaStore under a claimed lease.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { availableBackends, type TestDatabases } from '../../../test/support/backends.js';
import {
  applyEvent,
  defineSaga,
  initialSnapshot,
  newMessageId,
  nextActions,
  type SagaDefinition,
  type SagaEvent,
  type SagaSnapshot,
  type SagaWriteOutcome,
  type Storage,
} from '../../core/src/index.js';
import { runConverge } from '../test/run-converge.js';

const backends = await availableBackends();

const noop = async () => undefined;
const once = { retry: { maxAttempts: 1 }, compensationRetry: { maxAttempts: 1 } };
const unsubscribe = defineSaga('unsubscribe', 1)
  .step('profile', { action: noop, compensate: noop, ...once })
  .step('contract', { action: noop, compensate: noop, ...once })
  .step('billing', { action: noop, compensate: noop, ...once })
  .build();
const onboarding = defineSaga('onboarding', 2)
  .step('account', { action: noop, compensate: noop, ...once })
  .build();

/** Plays an orchestrator on one stored saga: it holds the saga's lease and records each event. */
class HeldSaga {
  private constructor(
    readonly storage: Storage,
    readonly id: string,
    readonly definition: SagaDefinition,
    public snapshot: SagaSnapshot,
    readonly fencingToken: number,
  ) {}

  /** Starts a saga (created `startedMsAgo` ago) and claims it with a lease no test outlives. */
  static async start(storage: Storage, definition: SagaDefinition, startedMsAgo = 0): Promise<HeldSaga> {
    const at = new Date(Date.now() - startedMsAgo);
    const id = newMessageId();
    const snapshot = initialSnapshot(definition, { customerId: 'c-1' }, at);
    const input = { customerId: 'c-1' };
    await storage.sagas.start({
      id,
      name: definition.name,
      version: definition.version,
      input,
      snapshot,
      idempotencyKey: null,
      at,
    });
    // Every earlier saga is held or halted, so the only runnable one is this.
    const [claimed] = await storage.sagas.claim('orchestrator-a', 3_600_000, 1, new Date());
    expect(claimed?.record.id).toBe(id);
    return new HeldSaga(storage, id, definition, snapshot, claimed!.fencingToken);
  }

  async apply(event: SagaEvent): Promise<SagaWriteOutcome> {
    const { snapshot, write } = applyEvent(this.snapshot, event, this.definition, new Date());
    const outcome = await this.storage.sagas.record(this.id, this.fencingToken, write);
    if (outcome === 'recorded') this.snapshot = snapshot;
    return outcome;
  }

  async run(step: string): Promise<void> {
    await this.apply({ kind: 'step-started', step, fencingToken: this.fencingToken });
    await this.apply({ kind: 'step-succeeded', step, attempt: 1, output: { done: step } });
  }

  async fail(step: string): Promise<void> {
    await this.apply({ kind: 'step-started', step, fencingToken: this.fencingToken });
    const error = { errorClass: 'PaymentDeclined', message: `${step}: card declined` };
    await this.apply({ kind: 'step-failed', step, attempt: 1, error, retryable: false });
  }
}

interface Transition {
  seq: number;
  kind: string;
  step: string | null;
  status: string;
  detail: unknown;
}

describe.each(backends)('converge saga on $name', (backend) => {
  let databases: TestDatabases;
  let storage: Storage;
  let database: string;
  /** Sagas by what they show. */
  const ids = { completed: '', stuck: '', held: '', old: '' };
  let held: HeldSaga;

  beforeAll(async () => {
    databases = (await backend.create())!;
    storage = await databases.open('orchestrator');
    database = databases.url('orchestrator');

    const old = await HeldSaga.start(storage, onboarding, 3 * 3_600_000);
    await old.fail('account'); // refused at once: nothing to undo, compensated
    ids.old = old.id;

    const completed = await HeldSaga.start(storage, unsubscribe);
    for (const step of ['profile', 'contract', 'billing']) await completed.run(step);
    ids.completed = completed.id;

    // billing is declined; undoing contract then fails for good: the saga needs attention.
    const stuck = await HeldSaga.start(storage, unsubscribe);
    await stuck.run('profile');
    await stuck.run('contract');
    await stuck.fail('billing');
    await stuck.apply({ kind: 'compensation-started', step: 'contract', fencingToken: stuck.fencingToken });
    await stuck.apply({
      kind: 'compensation-failed',
      step: 'contract',
      attempt: 1,
      error: { errorClass: 'ContractLocked', message: 'contract is locked by legal' },
      retryable: false,
    });
    ids.stuck = stuck.id;

    // profile's call is in flight under orchestrator-a's lease.
    held = await HeldSaga.start(storage, unsubscribe);
    await held.apply({ kind: 'step-started', step: 'profile', fencingToken: held.fencingToken });
    ids.held = held.id;
    return () => databases.cleanup();
  });

  const converge = (args: readonly string[], env: Record<string, string> = {}) =>
    runConverge([...args, '--database', database], env);
  const show = async (id: string) => {
    const run = await converge(['saga', 'show', id, '--json']);
    expect(run.code).toBe(0);
    return JSON.parse(run.stdout) as {
      saga: { status: string; reason: string | null; transitions: number };
      transitions: Transition[];
    };
  };

  it('list prints a table of every saga, newest first; --json only JSON, without inputs and snapshots', async () => {
    const run = await converge(['saga', 'list']);
    expect(run.code).toBe(0);
    const lines = run.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^ID\s+NAME\s+VERSION\s+STATUS\s+STARTED\s+UPDATED\s+LEASE\s+REASON$/);
    expect(lines.slice(1).map((line) => line.split(/\s+/)[0])).toEqual([
      ids.held,
      ids.stuck,
      ids.completed,
      ids.old,
    ]);
    expect(run.stdout).toMatch(/needs-attention.*orchestrator-a until .*The compensation of step 'contract'/);

    const json = await converge(['saga', 'list', '--state', 'needs-attention', '--json']);
    expect(json).toMatchObject({ code: 0, stderr: '' });
    const { sagas } = JSON.parse(json.stdout) as { sagas: Record<string, unknown>[] };
    expect(sagas).toEqual([
      expect.objectContaining({
        id: ids.stuck,
        name: 'unsubscribe',
        version: 1,
        status: 'needs-attention',
        transitions: 9,
      }),
    ]);
    expect(sagas[0]?.reason).toContain('ContractLocked: contract is locked by legal');
    expect(Object.keys(sagas[0]!)).not.toContain('snapshot');
    expect(Object.keys(sagas[0]!)).not.toContain('input');
  });

  it('list filters by --name, --since and --limit; bad values exit 2 naming the flag', async () => {
    const names = async (args: string[]) => {
      const run = await converge(['saga', 'list', '--json', ...args]);
      expect(run.code).toBe(0);
      return (JSON.parse(run.stdout) as { sagas: { id: string }[] }).sagas.map((s) => s.id);
    };
    expect(await names(['--name', 'onboarding'])).toEqual([ids.old]);
    expect(await names(['--name', 'onboarding', '--state', 'compensated'])).toEqual([ids.old]);
    expect(await names(['--since', '1h'])).toEqual([ids.held, ids.stuck, ids.completed]);
    expect(await names(['--state', 'running'])).toEqual([ids.held]);
    const limited = await converge(['saga', 'list', '--limit', '1']);
    expect(limited.stderr).toContain('Showing 1 of the matching sagas');

    const state = await converge(['saga', 'list', '--state', 'stuck']);
    expect(state.code).toBe(2);
    expect(state.stderr).toContain("argument 'stuck' is invalid");
    const since = await converge(['saga', 'list', '--since', 'yesterday']);
    expect(since).toMatchObject({ code: 2, stdout: '' });
    expect(since.stderr).toContain("--since 'yesterday' is not a duration");
  });

  it('show gives the timeline in order: attempts, errors, compensations; text and JSON', async () => {
    const { saga, transitions } = await show(ids.stuck);
    expect(saga.status).toBe('needs-attention');
    expect(transitions.map((t) => t.seq)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(transitions.map((t) => [t.kind, t.step])).toEqual([
      ['started', null],
      ['step-started', 'profile'],
      ['step-succeeded', 'profile'],
      ['step-started', 'contract'],
      ['step-succeeded', 'contract'],
      ['step-started', 'billing'],
      ['step-failed', 'billing'],
      ['compensation-started', 'contract'],
      ['compensation-failed', 'contract'],
    ]);
    expect(transitions[6]).toMatchObject({
      status: 'compensating',
      detail: { errorClass: 'PaymentDeclined' },
    });

    const text = await converge(['saga', 'show', ids.stuck]);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/^status\s+needs-attention$/m);
    expect(text.stdout).toMatch(
      /^contract\s+compensation-failed\s+1\s+1\s+ContractLocked: contract is locked by legal$/m,
    );
    expect(text.stdout).toMatch(
      /^7\s+\S+\s+step-failed\s+billing\s+1\s+compensating\s+PaymentDeclined: billing: card declined; given up \(not retryable\)$/m,
    );
    expect(text.stdout.indexOf('Steps:')).toBeLessThan(text.stdout.indexOf('Timeline:'));
  });

  it('show: an unknown saga exits 4, a malformed id 2', async () => {
    const missing = await converge(['saga', 'show', '0190a5c4-0000-7000-8000-000000000000']);
    expect(missing).toMatchObject({ code: 4, stdout: '' });
    expect(missing.stderr).toContain('There is no saga 0190a5c4-0000-7000-8000-000000000000');
    const bad = await converge(['saga', 'show', 'nope', '--json']);
    expect(bad).toMatchObject({ code: 2, stdout: '' });
    expect(JSON.parse(bad.stderr).error.message).toContain("'nope' is not a saga id");
  });

  it('list --stranded: the sagas not yet final whose version no running orchestrator registers', async () => {
    const beat = (
      orchestratorId: string,
      definitions: Record<string, number[]>,
      agoMs = 0,
      stopped = false,
    ) => {
      const at = new Date(Date.now() - agoMs);
      return storage.sagas.heartbeatOrchestrator({
        orchestratorId,
        host: 'test',
        pid: null,
        definitions,
        at,
        stoppedAt: stopped ? at : null,
      });
    };
    await beat('runs-onboarding', { onboarding: [2] });
    await beat('stopped', { unsubscribe: [1] }, 0, true);
    await beat('silent', { unsubscribe: [1] }, 3_600_000);
    const stranded = async (args: string[] = []) => {
      const run = await converge(['saga', 'list', '--stranded', '--json', ...args]);
      expect(run.code).toBe(0);
      return (JSON.parse(run.stdout) as { sagas: { id: string }[] }).sagas.map((s) => s.id);
    };
    // Oldest first; the final ones (completed, compensated) are never stranded.
    expect(await stranded()).toEqual([ids.stuck, ids.held]);
    // Counting the silent one as running (its heartbeat is within 2 hours), none is.
    expect(await stranded(['--alive-within', '2h'])).toEqual([]);
    const text = await converge(['saga', 'list', '--stranded', '--alive-within', '2h']);
    expect(text.stdout).toContain('No stranded sagas');

    const mixed = await converge(['saga', 'list', '--stranded', '--name', 'unsubscribe']);
    expect(mixed).toMatchObject({ code: 2, stdout: '' });
    expect(mixed.stderr).toContain('--stranded lists every stranded saga and takes no --name');
  });

  it('resume records who and why in the log and moves a saga that needs attention to compensating', async () => {
    const run = await converge([
      'saga',
      'resume',
      ids.stuck,
      '--reason',
      'legal unlocked the contract (INC-7)',
      '--actor',
      'alice',
      '--json',
    ]);
    expect(run).toMatchObject({ code: 0, stderr: '' });
    expect(JSON.parse(run.stdout)).toEqual({
      action: 'resume',
      id: ids.stuck,
      name: 'unsubscribe',
      version: 1,
      previousStatus: 'needs-attention',
      status: 'compensating',
      actor: 'alice',
      reason: 'legal unlocked the contract (INC-7)',
      transition: 10,
      fencingToken: expect.any(Number),
    });
    const { saga, transitions } = await show(ids.stuck);
    expect(saga).toMatchObject({ status: 'compensating', reason: null, transitions: 10 });
    expect(transitions.at(-1)).toMatchObject({
      seq: 10,
      kind: 'resume',
      status: 'compensating',
      detail: { actor: 'alice', reason: 'legal unlocked the contract (INC-7)' },
    });
    // The orchestrator that claims it next undoes contract again, with fresh retries.
    const [claimed] = await storage.sagas.claim('orchestrator-b', 60_000, 1, new Date());
    expect(claimed?.record.id).toBe(ids.stuck);
    const plan = nextActions(claimed!.record.snapshot as SagaSnapshot, unsubscribe, new Date(), {
      sagaId: ids.stuck,
      fencingToken: claimed!.fencingToken,
    });
    expect(plan.actions).toMatchObject([{ kind: 'run-compensation', step: 'contract', attempt: 2 }]);

    // The actor defaults to $USER, as with dlq.
    const cancel = await converge(['saga', 'cancel', ids.stuck, '--reason', 'customer called back'], {
      USER: 'carol',
    });
    expect(cancel.code).toBe(0);
    expect(cancel.stdout).toMatch(
      /^Cancelled saga .*: compensating -> failed, transition 11 by carol\. It has ended;/,
    );
    expect((await show(ids.stuck)).transitions.at(-1)?.detail).toEqual({
      actor: 'carol',
      reason: 'customer called back',
    });
  });

  it('an action that does not fit the state exits 5; a missing or empty --reason exits 2; neither changes anything', async () => {
    const before = await show(ids.completed);
    const resume = await converge(['saga', 'resume', ids.completed, '--reason', 'why not']);
    expect(resume).toMatchObject({ code: 5, stdout: '' });
    expect(resume.stderr).toContain("is completed: 'resume' does not apply: the saga has ended");
    const noReason = await converge(['saga', 'cancel', ids.held]);
    expect(noReason.code).toBe(2);
    expect(noReason.stderr).toContain("required option '--reason <text>' not specified");
    const empty = await converge(['saga', 'cancel', ids.held, '--reason', '  ']);
    expect(empty.code).toBe(2);
    expect(empty.stderr).toContain('--reason <text> is empty');
    const unknown = await converge([
      'saga',
      'retry',
      '0190a5c4-0000-7000-8000-000000000000',
      '--reason',
      'x',
    ]);
    expect(unknown.code).toBe(4);
    expect(await show(ids.completed)).toEqual(before);
    expect((await show(ids.held)).saga).toMatchObject({ status: 'running', transitions: 2 });
  });

  it('fences off the orchestrator holding the saga: its next write is refused, and its call is re-issued', async () => {
    const run = await converge([
      'saga',
      'compensate',
      ids.held,
      '--reason',
      'customer withdrew',
      '--actor',
      'dave',
    ]);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('running -> compensating');
    expect(run.stdout).toContain('The running orchestrators take it up at their next claim');

    // orchestrator-a wakes up with profile's answer: refused, nothing written.
    const late = await held.apply({ kind: 'step-succeeded', step: 'profile', attempt: 1, output: {} });
    expect(late).toBe('fenced');
    const { saga, transitions } = await show(ids.held);
    expect(saga).toMatchObject({ status: 'compensating', transitions: 3 });
    expect(transitions.map((t) => t.kind)).toEqual(['started', 'step-started', 'compensate']);

    // The next holder settles profile's orphaned attempt first, with the same idempotency key.
    const [claimed] = await storage.sagas.claim('orchestrator-b', 60_000, 1, new Date());
    expect(claimed?.record.id).toBe(ids.held);
    const plan = nextActions(claimed!.record.snapshot as SagaSnapshot, unsubscribe, new Date(), {
      sagaId: ids.held,
      fencingToken: claimed!.fencingToken,
    });
    expect(plan.actions).toMatchObject([
      { kind: 'run-step', step: 'profile', reissue: true, idempotencyKey: `${ids.held}:profile` },
    ]);
  });

  it.runIf(backend.name === 'postgres')(
    'masks the password of the database URL in what it prints',
    async () => {
      const url = database.replace('postgres@', 'postgres:s3cret-pw@');
      expect(url).toContain('s3cret-pw');
      const run = await runConverge([
        'saga',
        'show',
        '0190a5c4-0000-7000-8000-000000000000',
        '--database',
        url,
      ]);
      expect(run.code).toBe(4);
      expect(run.stderr).not.toContain('s3cret-pw');
      expect(run.stderr).toContain('***');
    },
  );
});
