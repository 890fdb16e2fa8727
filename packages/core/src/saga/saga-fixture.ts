/**
 * Test fixture for the saga state machine: a definition made of named stages, and a driver that
 * plays an orchestrator against the pure functions with a controllable clock — the way the real
 * orchestrator will (plan, record the start, call, record the result), minus the I/O.
 */
import type { SagaWrite } from '../ports/saga-store.js';
import { defineSaga, type StepOptions } from './define-saga.js';
import type { SagaDefinition } from './saga-definition.js';
import type { SagaEvent } from './saga-event.js';
import { initialSnapshot, type SagaSnapshot } from './saga-snapshot.js';
import { applyEvent, nextActions, type SagaAction, type SagaPlan } from './saga-state-machine.js';

/** The fixture's start time. */
export const T0 = new Date('2026-01-01T00:00:00.000Z');

/** Options for every step of `sagaOf`, and the steps that have no compensation. */
export interface FixtureOptions {
  readonly step?: Partial<StepOptions<unknown, object, unknown>>;
  readonly withoutCompensation?: readonly string[];
}

/** A saga whose stages are given by name: `[['a'], ['b', 'c']]` runs a, then b and c at once. */
export function sagaOf(stages: readonly (readonly string[])[], options: FixtureOptions = {}): SagaDefinition {
  let builder = defineSaga('fixture', 1);
  const stepOptions = (name: string) => ({
    action: async () => ({ done: name }),
    ...(options.withoutCompensation?.includes(name) ? {} : { compensate: async () => undefined }),
    ...options.step,
  });
  for (const stage of stages) {
    builder =
      stage.length === 1
        ? builder.step(stage[0]!, stepOptions(stage[0]!))
        : builder.parallel(stage.map((name) => ({ name, ...stepOptions(name) })));
  }
  return builder.build();
}

/** A seeded random in [0, 1) (mulberry32), for reproducible jitter. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/** Plays an orchestrator holding the saga's lease with `fencingToken`. */
export class SagaRun {
  snapshot: SagaSnapshot;
  readonly writes: SagaWrite[] = [];
  now: Date;
  fencingToken = 1;
  readonly sagaId = '0190aaaa-0000-7000-8000-000000000001';

  constructor(
    readonly definition: SagaDefinition,
    readonly random: () => number = seededRandom(1),
    input: unknown = {},
  ) {
    this.now = T0;
    this.snapshot = initialSnapshot(definition, input, T0);
  }

  plan(): SagaPlan {
    return nextActions(this.snapshot, this.definition, this.now, {
      sagaId: this.sagaId,
      fencingToken: this.fencingToken,
    });
  }

  /** Applies `event` as the one write it is; checks the snapshot survives JSON. */
  apply(event: SagaEvent): SagaWrite {
    const { snapshot, write } = applyEvent(this.snapshot, event, this.definition, this.now, {
      random: this.random,
    });
    if (JSON.stringify(JSON.parse(JSON.stringify(snapshot))) !== JSON.stringify(snapshot)) {
      throw new Error('The snapshot does not survive JSON.');
    }
    this.snapshot = JSON.parse(JSON.stringify(snapshot)) as SagaSnapshot;
    this.writes.push(write);
    return write;
  }

  /** The planned call for `step` (of `kind`), which must be due now. */
  due(step: string, kind: SagaAction['kind'] = 'run-step'): SagaAction {
    const action = this.plan().actions.find((a) => a.step === step && a.kind === kind);
    if (action === undefined) throw new Error(`${kind} '${step}' is not due: ${JSON.stringify(this.plan())}`);
    return action;
  }

  /** Records the start of `step`'s due attempt; returns the action. */
  start(step: string): SagaAction {
    const action = this.due(step);
    this.apply({ kind: 'step-started', step, fencingToken: this.fencingToken });
    return action;
  }

  startCompensation(step: string): SagaAction {
    const action = this.due(step, 'run-compensation');
    this.apply({ kind: 'compensation-started', step, fencingToken: this.fencingToken });
    return action;
  }

  /** The attempt of `step` in flight. */
  attempt(step: string): number {
    const flight = this.snapshot.steps[step]?.inFlight;
    if (!flight) throw new Error(`Step '${step}' has no attempt in flight.`);
    return flight.attempt;
  }

  succeed(step: string, output: unknown = { ok: step }): SagaWrite {
    return this.apply({ kind: 'step-succeeded', step, attempt: this.attempt(step), output });
  }

  fail(step: string, retryable = true, retryAfterMs?: number): SagaWrite {
    const error = { errorClass: 'Error', message: `${step} broke` };
    return this.apply({
      kind: 'step-failed',
      step,
      attempt: this.attempt(step),
      error,
      retryable,
      retryAfterMs,
    });
  }

  compensated(step: string): SagaWrite {
    return this.apply({ kind: 'compensation-succeeded', step, attempt: this.attempt(step) });
  }

  failCompensation(step: string, retryable = true): SagaWrite {
    const error = { errorClass: 'Error', message: `undoing ${step} broke` };
    return this.apply({ kind: 'compensation-failed', step, attempt: this.attempt(step), error, retryable });
  }

  /** Runs `step` to success. */
  run(step: string): void {
    this.start(step);
    this.succeed(step);
  }

  advanceTo(at: Date): void {
    if (at.getTime() > this.now.getTime()) this.now = at;
  }

  advance(ms: number): void {
    this.now = new Date(this.now.getTime() + ms);
  }

  /** Another orchestrator claims the saga: a newer fencing token. */
  takeOver(): void {
    this.fencingToken += 1;
  }

  /** The transition log's kinds (with their steps). */
  log(): string[] {
    return this.writes.map((w) =>
      w.transition.step === null ? w.transition.kind : `${w.transition.kind} ${w.transition.step}`,
    );
  }
}
