/**
 * The saga state machine, as pure functions: `nextActions` says what to do now, `applyEvent` turns
 * what happened into the next snapshot and the one durable write that records it. No I/O, no
 * clock (`now` is given), no randomness but the one passed in: the orchestrator glues these to a
 * `SagaStore` and to the participants.
 *
 * The saga (statuses from `SagaStatus`):
 *
 * - `running`: steps are run forward, stage by stage. A stage is one step or a parallel group; the
 *   next stage starts when every step of the current one succeeded. When the last step succeeds
 *   the saga is `completed`.
 * - A step's attempt that throws a retryable error (or times out: a timeout is a retryable
 *   failure) is tried again after the step policy's backoff (equal jitter), or after the
 *   participant's Retry-After. A non-retryable error (`TerminalError`, or one the step's
 *   `nonRetryable` matches) skips the retries. When the step has failed for good, the saga turns
 *   `compensating`.
 * - `compensating`: first, steps still `running` (the rest of a parallel group) are let settle:
 *   their result is recorded, whatever it is, and none is retried. Then the steps that succeeded
 *   and have a compensation are undone one at a time, in reverse order (the last stage first;
 *   within a group, the last member first). A step that failed for good is compensated too when
 *   its last attempt's outcome is unknown (it timed out, got no answer, or failed with another
 *   retryable error): the participant may have applied it, and a compensation of an effect that
 *   never happened is a no-op for it (the compensation key tells it so). A step refused for good
 *   (a non-retryable error) or never tried is never compensated. A compensation is retried per
 *   its own policy (10 attempts by default); when all are undone the saga is `compensated`
 *   (steps without a compensation are left as they are).
 * - A compensation that fails for good (retries exhausted, or a non-retryable error) moves the
 *   saga to `needs-attention`, with its reason naming the step, the error and what was already
 *   undone. It stays there until an operator acts.
 * - Operators' actions, each audited with actor and reason: `resume` (from `needs-attention`: try
 *   the failed compensation again with fresh retries), `compensate` (from `running` or
 *   `needs-attention`: undo now), `retry` (from `needs-attention` or `compensating`, as long as
 *   nothing was undone yet and no compensation is under way: run the failed steps forward again
 *   with fresh retries) and `cancel` (from any non-final status: `failed`, nothing undone).
 * - `completed`, `compensated` and `failed` are final.
 *
 * A step (statuses from `StepStatus`): `pending` → `running` (an attempt in flight) → `succeeded`,
 * or back to `pending` with `retryAt` after a retryable failure, or `failed`. Undoing:
 * `succeeded` → `compensating` (in flight, or waiting for `retryAt`) → `compensated` or
 * `compensation-failed`.
 *
 * Takeover. An attempt is recorded as started (`step-started`, with the fencing token of the
 * orchestrator's lease) before the call, and its result after it. When an orchestrator dies in
 * between, the attempt stays in flight under the old token; the instance that claims the saga next
 * has a newer token, so `nextActions` returns that step again (`reissue: true`). The re-issued
 * call carries the same idempotency key (`<sagaId>:<step>`, or `<sagaId>:<step>:compensate`), so a
 * participant that recorded the key with its effect answers with the stored response: the effect
 * happens once. The attempt number counts up; an orphaned attempt is not a failure and does not
 * use up the retry policy. An attempt in flight under the caller's own token is its own call: the
 * plan waits for it (until its deadline; the orchestrator enforces the timeout and records
 * `step-timed-out`).
 *
 * One write per transition: every event (see saga-event.ts) yields one `SagaWrite`, whose
 * `wakeAt` is when the saga is runnable again (null: now, or held by an in-flight call's lease)
 * and whose `reason` is set for `needs-attention` and `failed`. The orchestrator may record the
 * writes of consecutive events in one durable write (a result and the starts it makes due), each
 * still its own log entry; the last one's snapshot is the saga's.
 */
import { ConvergeError } from '../core/errors.js';
import { backoffDelayMs } from '../core/retry-policy.js';
import { SagaStatus, type SagaWrite } from '../ports/saga-store.js';
import type { SagaDefinition, SagaStep } from './saga-definition.js';
import { compensationIdempotencyKey, stepIdempotencyKey } from './saga-definition.js';
import type { OperatorEvent, ReportedError, SagaEvent, SagaSettledEvent } from './saga-event.js';
import { applyOperatorEvent } from './saga-operator-actions.js';
import { type SagaSnapshot, type StepError, type StepSnapshot, StepStatus } from './saga-snapshot.js';
import { checkSnapshot, eventError, latestToUndo, type SagaChange, settle, withStep } from './saga-steps.js';

/** Call a step's action, or its compensation. */
export interface SagaAction {
  readonly kind: 'run-step' | 'run-compensation';
  readonly step: string;
  /** The attempt number the call will be (the `attempt` of the context and of the result's event). */
  readonly attempt: number;
  readonly idempotencyKey: string;
  /** Abort the call after this long and record a timeout. */
  readonly timeoutMs: number;
  /** True when an earlier orchestrator started this attempt and never recorded its result. */
  readonly reissue: boolean;
}

/** What to do now. */
export interface SagaPlan {
  /** Calls to start now (several for a parallel group). Record `step-started`/`compensation-started` before each. */
  readonly actions: readonly SagaAction[];
  /** The earliest time something becomes due without an event (a backoff's end, an in-flight attempt's deadline); null if none. */
  readonly waitUntil: Date | null;
  /** True when nothing happens without an operator: the saga is final or `needs-attention`. */
  readonly halted: boolean;
  /**
   * True when the saga has nothing left to run and only needs its end recorded: record a
   * `saga-settled` event (an operator's `compensate` left nothing with a compensation to undo).
   */
  readonly settle: boolean;
}

/** The orchestrator's hold on the saga: its id and the fencing token of the current lease. */
export interface SagaLease {
  readonly sagaId: string;
  readonly fencingToken: number;
}

/** The next snapshot and the one write that records it (`store.record(id, token, write)`). */
export interface SagaTransitionResult {
  readonly snapshot: SagaSnapshot;
  readonly write: SagaWrite;
}

/** Options of `applyEvent`. */
export interface ApplyEventOptions {
  /** The randomness of the backoff's jitter, in [0, 1). Default `Math.random`. */
  readonly random?: () => number;
}

/**
 * What to do now for the saga in `snapshot`, held under `lease`.
 *
 * @throws ConvergeError `SAGA_DEFINITION_MISMATCH` when `definition` is not the one the snapshot was made with.
 */
export function nextActions(
  snapshot: SagaSnapshot,
  definition: SagaDefinition,
  now: Date,
  lease: SagaLease,
): SagaPlan {
  checkSnapshot(snapshot, definition);
  const plan = new PlanBuilder(lease, now);
  if (snapshot.status === SagaStatus.RUNNING) planForward(snapshot, definition, plan);
  else if (snapshot.status === SagaStatus.COMPENSATING) planUndo(snapshot, definition, plan);
  else return { actions: [], waitUntil: null, halted: true, settle: false };
  const result = plan.result();
  const idle = result.actions.length === 0 && result.waitUntil === null;
  return idle && settle(snapshot, definition).status !== snapshot.status
    ? { ...result, settle: true }
    : result;
}

class PlanBuilder {
  readonly actions: SagaAction[] = [];
  private earliest: number | null = null;
  constructor(
    readonly lease: SagaLease,
    readonly now: Date,
  ) {}

  run(kind: SagaAction['kind'], step: SagaStep, state: StepSnapshot, reissue: boolean): void {
    const undo = kind === 'run-compensation';
    this.actions.push({
      kind,
      step: step.name,
      attempt: (undo ? state.compensationAttempts : state.attempts) + 1,
      idempotencyKey: (undo ? compensationIdempotencyKey : stepIdempotencyKey)(this.lease.sagaId, step.name),
      timeoutMs: undo ? (step.compensation?.timeoutMs ?? step.timeoutMs) : step.timeoutMs,
      reissue,
    });
  }

  waitFor(iso: string): void {
    const at = Date.parse(iso);
    if (this.earliest === null || at < this.earliest) this.earliest = at;
  }

  /** Re-issues an orphaned in-flight attempt, or waits for one of the lease's own. */
  inFlight(kind: SagaAction['kind'], step: SagaStep, state: StepSnapshot): void {
    const flight = state.inFlight!;
    if (flight.fencingToken === this.lease.fencingToken) this.waitFor(flight.deadline);
    else this.run(kind, step, state, true);
  }

  /** Runs a waiting attempt when its `retryAt` has come, or waits for it. */
  whenDue(kind: SagaAction['kind'], step: SagaStep, state: StepSnapshot): void {
    if (state.retryAt === null || Date.parse(state.retryAt) <= this.now.getTime())
      this.run(kind, step, state, false);
    else this.waitFor(state.retryAt);
  }

  result(): SagaPlan {
    return {
      actions: this.actions,
      waitUntil: this.earliest === null ? null : new Date(this.earliest),
      halted: false,
      settle: false,
    };
  }
}

function planForward(snapshot: SagaSnapshot, definition: SagaDefinition, plan: PlanBuilder): void {
  const stage = definition.stages.findIndex((names) =>
    names.some((name) => snapshot.steps[name]?.status !== StepStatus.SUCCEEDED),
  );
  for (const step of definition.steps) {
    if (step.stage !== stage) continue;
    const state = snapshot.steps[step.name]!;
    if (state.status === StepStatus.RUNNING) plan.inFlight('run-step', step, state);
    else if (state.status === StepStatus.PENDING) plan.whenDue('run-step', step, state);
  }
}

function planUndo(snapshot: SagaSnapshot, definition: SagaDefinition, plan: PlanBuilder): void {
  const settling = definition.steps.filter(
    (step) => snapshot.steps[step.name]?.status === StepStatus.RUNNING,
  );
  for (const step of settling) plan.inFlight('run-step', step, snapshot.steps[step.name]!);
  if (settling.length > 0) return;
  const step = latestToUndo(snapshot, definition);
  if (step === undefined) return;
  const state = snapshot.steps[step.name]!;
  if (state.inFlight !== null) plan.inFlight('run-compensation', step, state);
  // A pending step's retryAt is its forward retry's, not a compensation's backoff: undo it now.
  else if (state.status === StepStatus.PENDING) plan.run('run-compensation', step, state, false);
  else plan.whenDue('run-compensation', step, state);
}

/**
 * Applies `event` to `snapshot`: returns the next snapshot and the write that records it.
 *
 * @throws ConvergeError `SAGA_EVENT_INVALID` when the event does not fit the state (a result for an
 * attempt that is not in flight, a start for a step that is not due): a bug in the caller.
 * `SAGA_ACTION_INVALID` when an operator's action does not apply to the saga's status (the
 * message says which actions do). `SAGA_DEFINITION_MISMATCH` for the wrong definition.
 */
export function applyEvent(
  snapshot: SagaSnapshot,
  event: SagaEvent,
  definition: SagaDefinition,
  now: Date,
  options: ApplyEventOptions = {},
): SagaTransitionResult {
  checkSnapshot(snapshot, definition);
  const random = options.random ?? Math.random;
  const change: SagaChange =
    event.kind === 'saga-settled'
      ? { snapshot, step: null, attempt: null, detail: { settled: settle(snapshot, definition).status } }
      : isOperatorEvent(event)
        ? applyOperatorEvent(snapshot, event, definition)
        : applyCallEvent(snapshot, event, definition, now, random);
  const next = settle({ ...change.snapshot, updatedAt: now.toISOString() }, definition);
  return {
    snapshot: next,
    write: {
      status: next.status,
      snapshot: next,
      wakeAt: wakeAtOf(next, definition, now),
      reason: next.reason,
      transition: { kind: event.kind, step: change.step, attempt: change.attempt, detail: change.detail },
      at: now,
    },
  };
}

function isOperatorEvent(event: SagaEvent): event is OperatorEvent {
  return 'actor' in event;
}

function applyCallEvent(
  snapshot: SagaSnapshot,
  event: Exclude<SagaEvent, OperatorEvent | SagaSettledEvent>,
  definition: SagaDefinition,
  now: Date,
  random: () => number,
): SagaChange {
  const step = definition.steps.find((s) => s.name === event.step);
  if (step === undefined) throw eventError(snapshot, event, 'the saga has no such step');
  const state = snapshot.steps[step.name]!;
  switch (event.kind) {
    case 'step-started':
      return startAttempt(snapshot, definition, step, state, event.fencingToken, now, false);
    case 'compensation-started':
      return startAttempt(snapshot, definition, step, state, event.fencingToken, now, true);
    case 'step-succeeded': {
      checkInFlight(snapshot, event, state, StepStatus.RUNNING);
      const done = { ...state, status: StepStatus.SUCCEEDED, inFlight: null, output: event.output ?? null };
      const next = withStep(snapshot, step.name, { ...done, succeededAt: now.toISOString() });
      return { snapshot: next, step: step.name, attempt: event.attempt, detail: { output: done.output } };
    }
    case 'compensation-succeeded': {
      checkInFlight(snapshot, event, state, StepStatus.COMPENSATING);
      const done = {
        ...state,
        status: StepStatus.COMPENSATED,
        inFlight: null,
        compensatedAt: now.toISOString(),
      };
      const next = { ...withStep(snapshot, step.name, done), undone: [...snapshot.undone, step.name] };
      return { snapshot: next, step: step.name, attempt: event.attempt, detail: {} };
    }
    case 'step-failed':
    case 'step-timed-out': {
      checkInFlight(snapshot, event, state, StepStatus.RUNNING);
      const error = reported(event, step.timeoutMs, 'action');
      return failAction({ snapshot, step, state, error, event, now, random });
    }
    case 'compensation-failed':
    case 'compensation-timed-out': {
      checkInFlight(snapshot, event, state, StepStatus.COMPENSATING);
      const error = reported(event, step.compensation?.timeoutMs ?? step.timeoutMs, 'compensation');
      return failCompensation({ snapshot, step, state, error, event, now, random });
    }
  }
}

function startAttempt(
  snapshot: SagaSnapshot,
  definition: SagaDefinition,
  step: SagaStep,
  state: StepSnapshot,
  fencingToken: number,
  now: Date,
  undo: boolean,
): SagaChange {
  const lease = { sagaId: '', fencingToken };
  const due = nextActions(snapshot, definition, now, lease).actions.find(
    (action) => action.step === step.name && (action.kind === 'run-compensation') === undo,
  );
  if (due === undefined) {
    const what = undo ? 'its compensation is not due' : 'it is not due to run';
    throw eventError(
      snapshot,
      { kind: undo ? 'compensation-started' : 'step-started', step: step.name },
      `${what} (step ${state.status}, saga ${snapshot.status})`,
    );
  }
  const timeoutMs = undo ? (step.compensation?.timeoutMs ?? step.timeoutMs) : step.timeoutMs;
  const inFlight = {
    attempt: due.attempt,
    fencingToken,
    startedAt: now.toISOString(),
    deadline: new Date(now.getTime() + timeoutMs).toISOString(),
  };
  const next: StepSnapshot = undo
    ? {
        ...state,
        status: StepStatus.COMPENSATING,
        compensationAttempts: due.attempt,
        inFlight,
        retryAt: null,
      }
    : { ...state, status: StepStatus.RUNNING, attempts: due.attempt, inFlight, retryAt: null };
  return {
    snapshot: withStep(snapshot, step.name, next),
    step: step.name,
    attempt: due.attempt,
    detail: { fencingToken, deadline: inFlight.deadline, reissue: due.reissue },
  };
}

type ResultEvent = Exclude<
  SagaEvent,
  OperatorEvent | SagaSettledEvent | { kind: 'step-started' | 'compensation-started' }
>;

function checkInFlight(
  snapshot: SagaSnapshot,
  event: ResultEvent,
  state: StepSnapshot,
  status: StepStatus,
): void {
  if (state.status !== status || state.inFlight?.attempt !== event.attempt) {
    const actual = state.inFlight === null ? 'no attempt' : `attempt ${state.inFlight.attempt}`;
    throw eventError(
      snapshot,
      event,
      `attempt ${event.attempt} is not in flight (step ${state.status}, ${actual} in flight); record one result per started attempt`,
    );
  }
}

function reported(event: ResultEvent, timeoutMs: number, what: string): StepError {
  if (event.kind === 'step-timed-out' || event.kind === 'compensation-timed-out') {
    return {
      errorClass: 'StepTimeoutError',
      message: `The ${what} of step '${event.step}' did not finish within ${timeoutMs} ms (attempt ${event.attempt}).`,
      retryable: true,
    };
  }
  if (event.kind === 'step-failed' || event.kind === 'compensation-failed') {
    const error: ReportedError = event.error;
    return { errorClass: error.errorClass, message: error.message, retryable: event.retryable };
  }
  throw new ConvergeError('SAGA_EVENT_INVALID', `Event '${event.kind}' is not a failure.`);
}

function retryAtOf(
  event: ResultEvent,
  policy: SagaStep['retry'],
  failures: number,
  now: Date,
  random: () => number,
): string {
  const given = 'retryAfterMs' in event ? event.retryAfterMs : undefined;
  const delayMs =
    given !== undefined && Number.isFinite(given) && given >= 0
      ? given
      : backoffDelayMs(policy, failures, random);
  return new Date(now.getTime() + delayMs).toISOString();
}

/** A failed attempt, as `failAction` and `failCompensation` take it. */
interface FailedAttempt {
  readonly snapshot: SagaSnapshot;
  readonly step: SagaStep;
  readonly state: StepSnapshot;
  readonly error: StepError;
  readonly event: ResultEvent;
  readonly now: Date;
  readonly random: () => number;
}

function failAction(attempt: FailedAttempt): SagaChange {
  const { snapshot, step, state, error, event, now, random } = attempt;
  const failures = state.failures + 1;
  const base = { ...state, failures, inFlight: null, lastError: error };
  const change = (next: SagaSnapshot, detail: object): SagaChange => ({
    snapshot: next,
    step: step.name,
    attempt: event.attempt,
    detail: { errorClass: error.errorClass, message: error.message, retryable: error.retryable, ...detail },
  });
  if (snapshot.status === SagaStatus.COMPENSATING) {
    // The saga is being undone: a settling attempt is not retried.
    return change(withStep(snapshot, step.name, { ...base, status: StepStatus.FAILED }), {
      givenUp: 'compensating',
    });
  }
  if (error.retryable && failures < step.retry.maxAttempts) {
    const retryAt = retryAtOf(event, step.retry, failures, now, random);
    return change(withStep(snapshot, step.name, { ...base, status: StepStatus.PENDING, retryAt }), {
      retryAt,
    });
  }
  const failed = withStep(snapshot, step.name, { ...base, status: StepStatus.FAILED });
  const givenUp = error.retryable ? `after ${failures} failed attempts` : 'not retryable';
  return change(
    { ...failed, status: SagaStatus.COMPENSATING, failure: { step: step.name, error } },
    { givenUp },
  );
}

function failCompensation(attempt: FailedAttempt): SagaChange {
  const { snapshot, step, state, error, event, now, random } = attempt;
  const policy = step.compensation!.retry;
  const compensationFailures = state.compensationFailures + 1;
  const base = { ...state, compensationFailures, inFlight: null, lastError: error };
  const detail = { errorClass: error.errorClass, message: error.message, retryable: error.retryable };
  if (error.retryable && compensationFailures < policy.maxAttempts) {
    const retryAt = retryAtOf(event, policy, compensationFailures, now, random);
    const next = withStep(snapshot, step.name, { ...base, status: StepStatus.COMPENSATING, retryAt });
    return { snapshot: next, step: step.name, attempt: event.attempt, detail: { ...detail, retryAt } };
  }
  const failed = withStep(snapshot, step.name, { ...base, status: StepStatus.COMPENSATION_FAILED });
  const tries = error.retryable
    ? `failed ${compensationFailures} times`
    : 'failed with an error that retrying cannot fix';
  const undone = snapshot.undone.length === 0 ? 'nothing' : snapshot.undone.map((s) => `'${s}'`).join(', ');
  const reason = `The compensation of step '${step.name}' ${tries} (last: ${error.errorClass}: ${error.message}); undone so far: ${undone}. Fix the cause, then resume the saga.`;
  return {
    snapshot: { ...failed, status: SagaStatus.NEEDS_ATTENTION, reason },
    step: step.name,
    attempt: event.attempt,
    detail: { ...detail, givenUp: true, undone: snapshot.undone },
  };
}

/** When the saga is runnable again by itself: null when something is due now or a call is in flight (the lease covers it). */
function wakeAtOf(snapshot: SagaSnapshot, definition: SagaDefinition, now: Date): Date | null {
  if (snapshot.status !== SagaStatus.RUNNING && snapshot.status !== SagaStatus.COMPENSATING) return null;
  if (Object.values(snapshot.steps).some((state) => state.inFlight !== null)) return null;
  const plan = nextActions(snapshot, definition, now, { sagaId: '', fencingToken: Number.NaN });
  return plan.actions.length > 0 ? null : plan.waitUntil;
}
