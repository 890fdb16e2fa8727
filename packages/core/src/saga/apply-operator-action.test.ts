import { describe, expect, it } from 'vitest';
import { isConvergeError } from '../core/errors.js';
import { SagaStatus } from '../ports/saga-store.js';
import { applyOperatorAction } from './apply-operator-action.js';
import type { OperatorEvent } from './saga-event.js';
import { SagaRun, sagaOf, T0 } from './saga-fixture.js';
import { applyEvent, nextActions } from './saga-state-machine.js';

const operator = { actor: 'alice', reason: 'billing fixed the card processor' };
const later = new Date(T0.getTime() + 60_000);

/** c failed for good, b was undone, the compensation of a gave up: the saga needs attention. */
function needingAttention(): SagaRun {
  const run = new SagaRun(sagaOf([['a'], ['b'], ['c']], { step: { compensationRetry: { maxAttempts: 1 } } }));
  for (const step of ['a', 'b']) run.run(step);
  run.start('c');
  run.fail('c', false);
  for (const step of ['b', 'a']) {
    run.startCompensation(step);
    if (step === 'b') run.compensated(step);
    else run.failCompensation(step);
  }
  expect(run.snapshot.status).toBe(SagaStatus.NEEDS_ATTENTION);
  return run;
}

/** The stored form of the run's snapshot: what `SagaStore.get` gives back. */
const stored = (run: SagaRun): unknown => JSON.parse(JSON.stringify(run.snapshot));

describe('applyOperatorAction (no definition)', () => {
  it('resumes a saga that needs attention exactly as applyEvent does with the definition', () => {
    const run = needingAttention();
    const event: OperatorEvent = { kind: 'resume', ...operator };
    const withDefinition = applyEvent(run.snapshot, event, run.definition, later);
    const result = applyOperatorAction(stored(run), event, later);
    expect(result).toEqual(withDefinition);
    expect(result.write).toMatchObject({
      status: SagaStatus.COMPENSATING,
      wakeAt: null,
      reason: null,
      transition: { kind: 'resume', step: null, attempt: null, detail: operator },
    });
  });

  it('retries forward, and refuses once a step was undone, naming it', () => {
    const forward = new SagaRun(sagaOf([['a'], ['b']], { step: { compensationRetry: { maxAttempts: 1 } } }));
    forward.run('a');
    forward.start('b');
    forward.fail('b', false);
    forward.startCompensation('a');
    forward.failCompensation('a');
    const retried = applyOperatorAction(stored(forward), { kind: 'retry', ...operator }, later);
    expect(retried.snapshot.status).toBe(SagaStatus.RUNNING);
    expect(retried.snapshot.steps).toMatchObject({ a: { status: 'succeeded' }, b: { status: 'pending' } });

    expect(() =>
      applyOperatorAction(stored(needingAttention()), { kind: 'retry', ...operator }, later),
    ).toThrow(/step 'b' is already being undone or was undone/);
  });

  it('retry runs a step forward again whose compensation failed after its own outcome was unknown', () => {
    const run = new SagaRun(
      sagaOf([['a'], ['b']], { step: { retry: { maxAttempts: 1 }, compensationRetry: { maxAttempts: 1 } } }),
    );
    run.run('a');
    run.start('b');
    run.apply({ kind: 'step-timed-out', step: 'b', attempt: 1 });
    run.startCompensation('b');
    run.failCompensation('b');
    expect(run.snapshot.status).toBe(SagaStatus.NEEDS_ATTENTION);
    const retried = applyOperatorAction(stored(run), { kind: 'retry', ...operator }, later);
    // b never succeeded: it is due again (same idempotency key), not taken as done.
    expect(retried.snapshot.steps).toMatchObject({
      a: { status: 'succeeded' },
      b: { status: 'pending', failures: 0, compensationFailures: 0 },
    });
    run.apply({ kind: 'retry', ...operator });
    expect(run.start('b')).toMatchObject({ attempt: 2, idempotencyKey: `${run.sagaId}:b` });
  });

  it('ends a saga compensated at once when nothing can have taken effect, like applyEvent', () => {
    const run = new SagaRun(sagaOf([['a'], ['b']]));
    const event: OperatorEvent = { kind: 'compensate', ...operator };
    const result = applyOperatorAction(stored(run), event, later);
    expect(result.write.status).toBe(SagaStatus.COMPENSATED);
    expect(result).toEqual(applyEvent(run.snapshot, event, run.definition, later));
  });

  it('leaves a saga with completed steps compensating, runnable now, for the orchestrator to undo', () => {
    const run = new SagaRun(sagaOf([['a'], ['b']]));
    run.run('a');
    run.start('b');
    const result = applyOperatorAction(stored(run), { kind: 'compensate', ...operator }, later);
    expect(result.write).toMatchObject({ status: SagaStatus.COMPENSATING, wakeAt: null });
    // b's attempt is still in flight under the old holder: the next claim settles it first.
    expect(result.snapshot.steps.b?.status).toBe('running');
  });

  it('cancels with the actor and reason in the saga reason; an ended saga refuses every action', () => {
    const run = needingAttention();
    const cancelled = applyOperatorAction(
      stored(run),
      { kind: 'cancel', actor: 'bob', reason: 'refunded' },
      later,
    );
    expect(cancelled.write).toMatchObject({
      status: SagaStatus.FAILED,
      reason: 'Cancelled by bob: refunded',
    });
    expect(() => applyOperatorAction(cancelled.snapshot, { kind: 'resume', ...operator }, later)).toThrow(
      expect.objectContaining({ code: 'SAGA_ACTION_INVALID' }),
    );
  });

  it('refuses a stored state it cannot read, naming its format', () => {
    let caught: unknown;
    try {
      applyOperatorAction({ format: 2, steps: {} }, { kind: 'cancel', ...operator }, later);
    } catch (error) {
      caught = error;
    }
    expect(isConvergeError(caught) && caught.code).toBe('SAGA_SNAPSHOT_INVALID');
    expect((caught as Error).message).toContain('(format 2)');
  });

  it('an undo with nothing to compensate is ended by the orchestrator: settle, then compensated', () => {
    // a completed but has no compensation; b never ran. The CLI cannot know a has none.
    const run = new SagaRun(sagaOf([['a'], ['b']], { withoutCompensation: ['a'] }));
    run.run('a');
    const undo = applyOperatorAction(stored(run), { kind: 'compensate', ...operator }, later);
    expect(undo.snapshot.status).toBe(SagaStatus.COMPENSATING);
    const plan = nextActions(undo.snapshot, run.definition, later, { sagaId: 's', fencingToken: 2 });
    expect(plan).toMatchObject({ actions: [], waitUntil: null, halted: false, settle: true });
    const settled = applyEvent(undo.snapshot, { kind: 'saga-settled' }, run.definition, later);
    expect(settled.write).toMatchObject({
      status: SagaStatus.COMPENSATED,
      transition: { kind: 'saga-settled', step: null, attempt: null },
    });
    expect(
      nextActions(settled.snapshot, run.definition, later, { sagaId: 's', fencingToken: 2 }).halted,
    ).toBe(true);
  });
});
