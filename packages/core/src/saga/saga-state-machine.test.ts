import { describe, expect, it } from 'vitest';
import { TerminalError } from '../core/errors.js';
import { backoffDelayMs } from '../core/retry-policy.js';
import { SagaStatus } from '../ports/saga-store.js';
import { DEFAULT_STEP_RETRY_POLICY } from './saga-definition.js';
import { SagaRun, sagaOf, seededRandom, T0 } from './saga-fixture.js';
import { nextActions } from './saga-state-machine.js';
import { stepFailure } from './step-failure.js';

const operator = { actor: 'alice', reason: 'billing fixed the card processor' };

/** Step c of three failed for good, b was undone; the compensation of a (with `attempts` in all) is in flight. */
function undoingFirstOfThree(attempts: number): SagaRun {
  const run = new SagaRun(
    sagaOf([['a'], ['b'], ['c']], { step: { compensationRetry: { maxAttempts: attempts } } }),
  );
  run.run('a');
  run.run('b');
  run.start('c');
  run.fail('c', false);
  run.startCompensation('b');
  run.compensated('b');
  run.startCompensation('a');
  return run;
}

/** Step b of two failed for good; the compensation of a is in flight. */
function undoingFirstOfTwo(options: Parameters<typeof sagaOf>[1] = {}): SagaRun {
  const run = new SagaRun(sagaOf([['a'], ['b']], options));
  run.run('a');
  run.start('b');
  run.fail('b', false);
  run.startCompensation('a');
  return run;
}

describe('saga state machine: forward', () => {
  it('runs steps in sequence to completed, one write per transition, with stable idempotency keys', () => {
    const run = new SagaRun(sagaOf([['profile'], ['contract'], ['billing']]));
    expect(run.plan().actions.map((a) => a.step)).toEqual(['profile']);
    const first = run.start('profile');
    expect(first).toMatchObject({ kind: 'run-step', attempt: 1, reissue: false, timeoutMs: 30_000 });
    expect(first.idempotencyKey).toBe(`${run.sagaId}:profile`);
    // Its own call is in flight: nothing to start, wait for its deadline.
    expect(run.plan()).toEqual({
      actions: [],
      waitUntil: new Date(T0.getTime() + 30_000),
      halted: false,
      settle: false,
    });
    run.succeed('profile', { profileId: 7 });
    run.run('contract');
    run.start('billing');
    const last = run.succeed('billing');
    expect(last.status).toBe(SagaStatus.COMPLETED);
    expect(last.wakeAt).toBeNull();
    expect(run.snapshot.steps.profile?.output).toEqual({ profileId: 7 });
    expect(run.plan()).toEqual({ actions: [], waitUntil: null, halted: true, settle: false });
    expect(run.log()).toEqual([
      'step-started profile',
      'step-succeeded profile',
      'step-started contract',
      'step-succeeded contract',
      'step-started billing',
      'step-succeeded billing',
    ]);
    expect(run.writes.map((w) => w.transition.attempt)).toEqual([1, 1, 1, 1, 1, 1]);
  });

  it('starts a parallel group at once and the next stage only when all of it succeeded', () => {
    const run = new SagaRun(sagaOf([['a'], ['b', 'c'], ['d']]));
    run.run('a');
    expect(run.plan().actions.map((x) => x.step)).toEqual(['b', 'c']);
    run.start('b');
    run.start('c');
    run.succeed('c');
    expect(run.plan().actions).toEqual([]);
    run.succeed('b');
    expect(run.plan().actions.map((x) => x.step)).toEqual(['d']);
  });

  it('retries a retryable failure after the backoff drawn from the seeded random, with the same key', () => {
    const run = new SagaRun(sagaOf([['a'], ['b']]), seededRandom(42));
    const jitter = seededRandom(42);
    run.run('a');
    const first = run.start('b');
    const failed = run.fail('b');
    const retryAt = new Date(run.now.getTime() + backoffDelayMs(DEFAULT_STEP_RETRY_POLICY, 1, jitter));
    expect(failed).toMatchObject({ status: SagaStatus.RUNNING, wakeAt: retryAt, reason: null });
    expect(run.snapshot.steps.b).toMatchObject({
      status: 'pending',
      failures: 1,
      retryAt: retryAt.toISOString(),
    });
    expect(run.plan()).toEqual({ actions: [], waitUntil: retryAt, halted: false, settle: false });
    run.advance(1_000);
    run.start('b');
    run.advance(100);
    const second = run.fail('b');
    expect(second.wakeAt).toEqual(
      new Date(run.now.getTime() + backoffDelayMs(DEFAULT_STEP_RETRY_POLICY, 2, jitter)),
    );
    run.advanceTo(second.wakeAt!);
    const third = run.start('b');
    expect(third).toMatchObject({ attempt: 3, idempotencyKey: first.idempotencyKey });
    expect(run.succeed('b').status).toBe(SagaStatus.COMPLETED);
  });

  it("waits for a participant's Retry-After instead of the backoff", () => {
    const run = new SagaRun(sagaOf([['a']]));
    run.start('a');
    expect(run.fail('a', true, 120_000).wakeAt).toEqual(new Date(T0.getTime() + 120_000));
  });

  it('counts a timeout as a retryable failure; after the last one it undoes the timed-out step too, then the earlier ones', () => {
    const run = new SagaRun(sagaOf([['a'], ['b']], { step: { retry: { maxAttempts: 2 } } }));
    run.run('a');
    run.start('b');
    run.advance(30_000);
    const timedOut = run.apply({ kind: 'step-timed-out', step: 'b', attempt: 1 });
    expect(timedOut.transition.detail).toMatchObject({ errorClass: 'StepTimeoutError', retryable: true });
    expect(run.snapshot.steps.b?.lastError?.message).toMatch(/did not finish within 30000 ms \(attempt 1\)/);
    run.advanceTo(timedOut.wakeAt!);
    run.start('b');
    const last = run.apply({ kind: 'step-timed-out', step: 'b', attempt: 2 });
    expect(last.status).toBe(SagaStatus.COMPENSATING);
    expect(run.snapshot.failure?.step).toBe('b');
    // 'b' may have been applied by the participant after all: its compensation runs first.
    expect(run.plan().actions).toMatchObject([
      { kind: 'run-compensation', step: 'b', idempotencyKey: `${run.sagaId}:b:compensate` },
    ]);
    run.startCompensation('b');
    run.compensated('b');
    expect(run.plan().actions).toMatchObject([{ kind: 'run-compensation', step: 'a' }]);
    run.startCompensation('a');
    expect(run.compensated('a').status).toBe(SagaStatus.COMPENSATED);
    expect(run.snapshot.undone).toEqual(['b', 'a']);
  });

  it('undoes a step whose last attempt got no answer (a retryable error), but not one the participant refused', () => {
    const throwAt = (run: SagaRun, attempt: number, error: Error) =>
      run.apply({ kind: 'step-failed', step: 'b', attempt, ...stepFailure(error) });
    const unknown = new SagaRun(sagaOf([['a'], ['b']], { step: { retry: { maxAttempts: 1 } } }));
    unknown.run('a');
    unknown.start('b');
    throwAt(unknown, 1, new Error('socket hang up'));
    expect(unknown.plan().actions).toMatchObject([{ kind: 'run-compensation', step: 'b' }]);

    const refused = new SagaRun(sagaOf([['a'], ['b']], { step: { retry: { maxAttempts: 3 } } }));
    refused.run('a');
    refused.start('b');
    refused.fail('b', true);
    refused.advanceTo(refused.plan().waitUntil!);
    refused.start('b');
    // An earlier attempt's unknown outcome is settled by the last answer (same idempotency key).
    throwAt(refused, 2, new TerminalError('closed'));
    expect(refused.plan().actions).toMatchObject([{ kind: 'run-compensation', step: 'a' }]);
  });

  it('skips the retries of a non-retryable error: a TerminalError or one the predicate matches', () => {
    expect(stepFailure(new TerminalError('card declined')).retryable).toBe(false);
    expect(stepFailure(new Error('HTTP 402'), (e) => String(e).includes('402')).retryable).toBe(false);
    expect(stepFailure(new Error('socket hang up')).retryable).toBe(true);
    const run = new SagaRun(sagaOf([['a'], ['b']]));
    run.run('a');
    run.start('b');
    const failure = stepFailure(new TerminalError('card declined'));
    const write = run.apply({ kind: 'step-failed', step: 'b', attempt: 1, ...failure });
    expect(write.status).toBe(SagaStatus.COMPENSATING);
    expect(write.transition.detail).toMatchObject({ message: 'card declined', givenUp: 'not retryable' });
    expect(run.snapshot.steps.b).toMatchObject({ status: 'failed', attempts: 1 });
  });
});

describe('saga state machine: compensation', () => {
  it('undoes a step whose earlier attempt had an unknown outcome and whose retry had not run yet', () => {
    // b's first attempt failed retryably (it may have applied) and waits for its retry when its
    // sibling c fails for good: b is undone too, before a, with its compensation key.
    const run = new SagaRun(sagaOf([['a'], ['b', 'c']]));
    run.run('a');
    run.start('b');
    run.start('c');
    run.fail('b', true);
    run.fail('c', false);
    expect(run.snapshot.status).toBe('compensating');
    expect(run.plan().actions).toMatchObject([
      { kind: 'run-compensation', step: 'b', idempotencyKey: `${run.sagaId}:b:compensate` },
    ]);
    run.startCompensation('b');
    run.compensated('b');
    expect(run.plan().actions).toMatchObject([{ kind: 'run-compensation', step: 'a' }]);
  });

  it('undoes completed steps in reverse order, never the failed, pending or uncompensatable ones', () => {
    const run = new SagaRun(sagaOf([['a'], ['b'], ['c'], ['d'], ['e']], { withoutCompensation: ['b'] }));
    for (const step of ['a', 'b', 'c']) run.run(step);
    run.start('d');
    run.fail('d', false);
    const undone: string[] = [];
    for (let action = run.plan().actions[0]; action !== undefined; action = run.plan().actions[0]) {
      expect(action.kind).toBe('run-compensation');
      expect(action.idempotencyKey).toBe(`${run.sagaId}:${action.step}:compensate`);
      run.startCompensation(action.step);
      run.compensated(action.step);
      undone.push(action.step);
    }
    expect(undone).toEqual(['c', 'a']);
    expect(run.snapshot).toMatchObject({ status: 'compensated', undone: ['c', 'a'] });
    expect(run.snapshot.steps).toMatchObject({
      b: { status: 'succeeded' },
      d: { status: 'failed' },
      e: { status: 'pending' },
    });
    expect(run.plan().halted).toBe(true);
  });

  it('ends compensated at once when the first step fails', () => {
    const run = new SagaRun(sagaOf([['a'], ['b']]));
    run.start('a');
    expect(run.fail('a', false).status).toBe(SagaStatus.COMPENSATED);
  });

  it('lets a parallel group settle, then undoes the members that succeeded or whose outcome is unknown', () => {
    const run = new SagaRun(sagaOf([['a'], ['b', 'c', 'd']]));
    run.run('a');
    run.start('b');
    run.start('c');
    run.start('d');
    run.fail('c', false);
    expect(run.snapshot.status).toBe(SagaStatus.COMPENSATING);
    // b and d are still in flight: nothing is undone until they settle.
    expect(run.plan().actions).toEqual([]);
    run.succeed('d');
    expect(run.plan().actions).toEqual([]);
    run.fail('b', true); // settling: not retried, but its outcome is unknown
    expect(run.snapshot.steps.b?.status).toBe('failed');
    expect(run.plan().actions.map((x) => x.step)).toEqual(['d']);
    run.startCompensation('d');
    run.compensated('d');
    run.startCompensation('b');
    run.compensated('b');
    run.startCompensation('a');
    expect(run.compensated('a').status).toBe(SagaStatus.COMPENSATED);
    // c was refused (non-retryable): nothing to undo there.
    expect(run.snapshot.undone).toEqual(['d', 'b', 'a']);
  });

  it('retries a failing compensation, then needs attention with the context, and resumes to compensated', () => {
    const run = undoingFirstOfThree(2);
    const retry = run.failCompensation('a');
    expect(retry.status).toBe(SagaStatus.COMPENSATING);
    run.advanceTo(retry.wakeAt!);
    expect(run.startCompensation('a').attempt).toBe(2);
    const stuck = run.failCompensation('a');
    expect(stuck).toMatchObject({ status: SagaStatus.NEEDS_ATTENTION, wakeAt: null });
    expect(stuck.reason).toBe(
      "The compensation of step 'a' failed 2 times (last: Error: undoing a broke); undone so far: 'b'. Fix the cause, then resume the saga.",
    );
    expect(stuck.transition.detail).toMatchObject({ undone: ['b'], givenUp: true });
    expect(run.snapshot.steps.a?.status).toBe('compensation-failed');
    expect(run.plan()).toEqual({ actions: [], waitUntil: null, halted: true, settle: false });

    const resumed = run.apply({ kind: 'resume', ...operator });
    expect(resumed).toMatchObject({ status: SagaStatus.COMPENSATING, reason: null, wakeAt: null });
    expect(resumed.transition).toEqual({ kind: 'resume', step: null, attempt: null, detail: operator });
    expect(run.startCompensation('a').attempt).toBe(3);
    expect(run.compensated('a').status).toBe(SagaStatus.COMPENSATED);
  });

  it('goes to needs-attention at once on a non-retryable compensation error', () => {
    const run = undoingFirstOfTwo();
    expect(run.failCompensation('a', false).reason).toMatch(
      /failed with an error that retrying cannot fix.*undone so far: nothing/,
    );
  });
});

describe('saga state machine: operators', () => {
  it('cancel ends the saga failed with the reason, undoing nothing; later actions are refused', () => {
    const run = new SagaRun(sagaOf([['a'], ['b']]));
    run.run('a');
    const cancelled = run.apply({ kind: 'cancel', actor: 'bob', reason: 'customer asked to stop' });
    expect(cancelled).toMatchObject({
      status: SagaStatus.FAILED,
      reason: 'Cancelled by bob: customer asked to stop',
    });
    expect(run.snapshot.undone).toEqual([]);
    expect(run.plan().halted).toBe(true);
    expect(() => run.apply({ kind: 'resume', ...operator })).toThrow(
      /is failed: 'resume' does not apply: the saga has ended/,
    );
  });

  it('retry re-runs the failed step forward with fresh retries', () => {
    const run = undoingFirstOfTwo({ step: { compensationRetry: { maxAttempts: 1 } } });
    run.failCompensation('a');
    expect(run.snapshot.status).toBe(SagaStatus.NEEDS_ATTENTION);
    expect(run.apply({ kind: 'retry', ...operator }).status).toBe(SagaStatus.RUNNING);
    expect(run.snapshot.steps).toMatchObject({
      a: { status: 'succeeded' },
      b: { status: 'pending', failures: 0 },
    });
    expect(run.start('b')).toMatchObject({ attempt: 2, idempotencyKey: `${run.sagaId}:b` });
    expect(run.succeed('b').status).toBe(SagaStatus.COMPLETED);
  });

  it('refuses retry once something was undone, and actions without a reason, changing nothing', () => {
    const run = undoingFirstOfThree(1);
    run.failCompensation('a');
    const before = run.snapshot;
    expect(() => run.apply({ kind: 'retry', ...operator })).toThrow(
      /step 'b' is already being undone or was undone/,
    );
    expect(() => run.apply({ kind: 'resume', actor: 'alice', reason: ' ' })).toThrow(/gives no reason/);
    expect(run.snapshot).toBe(before);
  });

  it('compensate stops a running saga and undoes what completed, after the step in flight settles', () => {
    const run = new SagaRun(sagaOf([['a'], ['b'], ['c']]));
    run.run('a');
    run.start('b');
    run.takeOver(); // the operator's intervention takes the saga over
    run.apply({ kind: 'compensate', ...operator });
    const settle = run.plan().actions;
    expect(settle).toMatchObject([{ kind: 'run-step', step: 'b', reissue: true, attempt: 2 }]);
    run.start('b');
    run.succeed('b');
    expect(run.plan().actions).toMatchObject([{ kind: 'run-compensation', step: 'b' }]);
  });
});

describe('saga state machine: takeover', () => {
  it('re-issues a step left running by a dead orchestrator with the same key, without using a retry', () => {
    const run = new SagaRun(sagaOf([['a'], ['b']], { step: { retry: { maxAttempts: 1 } } }));
    run.run('a');
    const first = run.start('b');
    run.takeOver();
    const [again] = run.plan().actions;
    expect(again).toEqual({ ...first, attempt: 2, reissue: true });
    const started = run.apply({ kind: 'step-started', step: 'b', fencingToken: run.fencingToken });
    expect(started.transition).toMatchObject({ attempt: 2, detail: { reissue: true } });
    expect(run.snapshot.steps.b).toMatchObject({ attempts: 2, failures: 0 });
    // The dead one's attempt can no longer report; the new one's does.
    expect(() => run.apply({ kind: 'step-succeeded', step: 'b', attempt: 1, output: null })).toThrow(
      /attempt 1 is not in flight/,
    );
    expect(run.succeed('b').status).toBe(SagaStatus.COMPLETED);
  });

  it('re-issues an orphaned compensation with the compensation key', () => {
    const run = undoingFirstOfTwo();
    run.takeOver();
    expect(run.plan().actions).toEqual([
      expect.objectContaining({
        kind: 'run-compensation',
        step: 'a',
        attempt: 2,
        reissue: true,
        idempotencyKey: `${run.sagaId}:a:compensate`,
      }),
    ]);
  });

  it('refuses a start that is not due and a result with the wrong attempt', () => {
    const run = new SagaRun(sagaOf([['a'], ['b']]));
    expect(() => run.apply({ kind: 'step-started', step: 'b', fencingToken: 1 })).toThrow(
      /SAGA|not due to run/,
    );
    run.start('a');
    expect(() => run.apply({ kind: 'step-started', step: 'a', fencingToken: 1 })).toThrow(/not due to run/);
    expect(() => run.apply({ kind: 'step-succeeded', step: 'a', attempt: 9, output: null })).toThrow(
      /attempt 9 is not in flight/,
    );
    expect(() => run.apply({ kind: 'step-succeeded', step: 'zz', attempt: 1, output: null })).toThrow(
      /no such step/,
    );
  });

  it('refuses to run a snapshot with another definition version', () => {
    const run = new SagaRun(sagaOf([['a']]));
    const other = { ...sagaOf([['a']]), version: 2 };
    expect(() => nextActions(run.snapshot, other, T0, { sagaId: 'x', fencingToken: 1 })).toThrow(
      /started with definition 'fixture' version 1, not 'fixture' version 2/,
    );
  });
});
