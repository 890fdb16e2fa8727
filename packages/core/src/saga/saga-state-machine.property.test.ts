import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SagaStatus } from '../ports/saga-store.js';
import type { SagaDefinition } from './saga-definition.js';
import { SagaRun, sagaOf, seededRandom } from './saga-fixture.js';
import type { SagaAction } from './saga-state-machine.js';

/** What a participant (or the orchestrator) does with one call. */
type Outcome = 'ok' | 'retryable' | 'terminal' | 'timeout' | 'crash';

interface Scenario {
  readonly stageSizes: number[];
  readonly withoutCompensation: boolean[];
  readonly maxAttempts: number;
  readonly compensationAttempts: number;
  readonly outcomes: Outcome[];
  readonly seed: number;
}

const scenarios = fc.record({
  stageSizes: fc.array(fc.integer({ min: 1, max: 3 }), { minLength: 1, maxLength: 5 }),
  withoutCompensation: fc.array(fc.boolean(), { minLength: 15, maxLength: 15 }),
  maxAttempts: fc.integer({ min: 1, max: 3 }),
  compensationAttempts: fc.integer({ min: 1, max: 3 }),
  outcomes: fc.array(fc.constantFrom<Outcome>('ok', 'retryable', 'terminal', 'timeout', 'crash'), {
    maxLength: 80,
  }),
  seed: fc.integer(),
});

function definitionOf(scenario: Scenario): SagaDefinition {
  let n = 0;
  const stages = scenario.stageSizes.map((size) => Array.from({ length: size }, () => `s${n++}`));
  const withoutCompensation = stages.flat().filter((_, i) => scenario.withoutCompensation[i]);
  return sagaOf(stages, {
    withoutCompensation,
    step: {
      retry: { maxAttempts: scenario.maxAttempts },
      compensationRetry: { maxAttempts: scenario.compensationAttempts },
    },
  });
}

/** Plays the scenario like an orchestrator would; returns the run once halted. */
function play(scenario: Scenario): SagaRun {
  const run = new SagaRun(definitionOf(scenario), seededRandom(scenario.seed));
  const outcomes = [...scenario.outcomes];
  const next = (): Outcome => outcomes.shift() ?? 'ok';
  let resumes = 0;
  for (let round = 0; round < 2_000; round++) {
    const plan = run.plan();
    if (plan.halted) {
      if (run.snapshot.status !== SagaStatus.NEEDS_ATTENTION || resumes >= 3 || next() !== 'ok') return run;
      resumes += 1;
      run.apply({ kind: 'resume', actor: 'property', reason: 'fixed' });
      continue;
    }
    // Never stuck: a saga that is not halted has something to do now or a time to wait for.
    expect(plan.actions.length > 0 || plan.waitUntil !== null).toBe(true);
    if (plan.actions.length === 0) {
      run.advanceTo(plan.waitUntil!);
      continue;
    }
    for (const action of plan.actions) startAction(run, action);
    for (const action of plan.actions) {
      const outcome = next();
      if (outcome === 'crash') {
        run.takeOver(); // the rest stay in flight under the dead orchestrator's token
        break;
      }
      finish(run, action, outcome);
    }
    run.advance(10);
  }
  throw new Error(`The saga did not halt: ${JSON.stringify(run.snapshot)}`);
}

function startAction(run: SagaRun, action: SagaAction): void {
  if (action.kind === 'run-step') run.start(action.step);
  else run.startCompensation(action.step);
}

function finish(run: SagaRun, action: SagaAction, outcome: Exclude<Outcome, 'crash'>): void {
  const undo = action.kind === 'run-compensation';
  const { step, attempt } = action;
  if (outcome === 'ok') {
    if (undo) run.compensated(step);
    else run.succeed(step);
  } else if (outcome === 'timeout') {
    run.apply({ kind: undo ? 'compensation-timed-out' : 'step-timed-out', step, attempt });
  } else if (undo) {
    run.failCompensation(step, outcome === 'retryable');
  } else {
    run.fail(step, outcome === 'retryable');
  }
}

describe('saga state machine: random outcomes', () => {
  it('always ends completed, compensated or needing attention; undoes only steps that may have taken effect, in reverse, once', () => {
    fc.assert(
      fc.property(scenarios, (scenario) => {
        const run = play(scenario);
        const { status } = run.snapshot;
        expect([SagaStatus.COMPLETED, SagaStatus.COMPENSATED, SagaStatus.NEEDS_ATTENTION]).toContain(status);

        const order = run.definition.steps.map((s) => s.name);
        const succeeded = new Set<string>();
        // Steps whose last attempt failed with an unknown outcome (timed out, or a retryable error).
        const unknown = new Set<string>();
        const undone: string[] = [];
        for (const write of run.writes) {
          const { kind, step, detail } = write.transition;
          if (kind === 'step-succeeded') succeeded.add(step!);
          if (kind === 'step-timed-out' || kind === 'step-failed') {
            if ((detail as { retryable: boolean }).retryable) unknown.add(step!);
            else unknown.delete(step!);
          }
          // Only what may have taken effect is undone.
          if (kind === 'compensation-started') expect(succeeded.has(step!) || unknown.has(step!)).toBe(true);
          if (kind === 'compensation-succeeded') undone.push(step!);
        }
        // Each at most once, in reverse definition order.
        expect(new Set(undone).size).toBe(undone.length);
        const positions = undone.map((s) => order.indexOf(s));
        expect(positions).toEqual([...positions].sort((x, y) => y - x));
        expect(run.snapshot.undone).toEqual(undone);

        if (status === SagaStatus.COMPLETED) {
          expect(succeeded.size).toBe(order.length);
          expect(undone).toEqual([]);
        }
        if (status === SagaStatus.COMPENSATED) {
          const left = run.definition.steps.filter((s) => {
            const state = run.snapshot.steps[s.name]!;
            const unknownOutcome = state.status === 'failed' && state.lastError?.retryable === true;
            return s.compensation !== null && (state.status === 'succeeded' || unknownOutcome);
          });
          expect(left).toEqual([]);
        }
        if (status === SagaStatus.NEEDS_ATTENTION)
          expect(run.snapshot.reason).toMatch(/compensation of step/);
      }),
      { numRuns: 500 },
    );
  });
});
