/**
 * Small pure helpers the state machine and the operators' actions share: reading and replacing a
 * step's state, finding the next step to undo, and ending the saga when nothing is left to do.
 */
import { ConvergeError } from '../core/errors.js';
import { SagaStatus } from '../ports/saga-store.js';
import type { SagaDefinition, SagaStep } from './saga-definition.js';
import { type SagaSnapshot, type StepSnapshot, StepStatus } from './saga-snapshot.js';

/** What one event changed, before `settle`, and the log entry's step, attempt and detail. */
export interface SagaChange {
  readonly snapshot: SagaSnapshot;
  readonly step: string | null;
  readonly attempt: number | null;
  readonly detail: unknown;
}

/** `snapshot` with step `name` replaced by `state`. */
export function withStep(snapshot: SagaSnapshot, name: string, state: StepSnapshot): SagaSnapshot {
  return { ...snapshot, steps: { ...snapshot.steps, [name]: state } };
}

/**
 * Whether the step's action may have taken effect at the participant: it succeeded, or it failed
 * for good and its last attempt's outcome is unknown — it timed out, got no answer, or failed
 * with any other retryable error, so the participant may have applied it (see ADR 0020, "unknown
 * outcome"). Only a definite refusal (a non-retryable error) says the effect did not happen.
 */
export function mayHaveApplied(state: StepSnapshot): boolean {
  if (state.status === StepStatus.SUCCEEDED) return true;
  // FAILED: its last attempt's outcome is unknown. PENDING: an earlier attempt's outcome is
  // unknown and its retry has not run yet when the saga turned to undoing (a sibling in a
  // parallel group failed for good, or an operator said compensate).
  const unknown = state.status === StepStatus.FAILED || state.status === StepStatus.PENDING;
  return unknown && state.lastError?.retryable === true;
}

/**
 * The step to undo next: the last one in the definition's order that has a compensation and may
 * have applied its effect (`mayHaveApplied`), or is being compensated. Undefined when nothing is
 * left.
 */
export function latestToUndo(snapshot: SagaSnapshot, definition: SagaDefinition): SagaStep | undefined {
  return definition.steps.findLast((step) => {
    const state = snapshot.steps[step.name];
    if (state === undefined) return false;
    return state.status === StepStatus.COMPENSATING || (mayHaveApplied(state) && step.compensation !== null);
  });
}

/** Ends the saga when its phase is over: every step succeeded (`completed`), or nothing is left to settle or undo (`compensated`). */
export function settle(snapshot: SagaSnapshot, definition: SagaDefinition): SagaSnapshot {
  const states = definition.steps.map((step) => snapshot.steps[step.name]!);
  if (snapshot.status === SagaStatus.RUNNING && states.every((s) => s.status === StepStatus.SUCCEEDED)) {
    return { ...snapshot, status: SagaStatus.COMPLETED };
  }
  if (
    snapshot.status === SagaStatus.COMPENSATING &&
    !states.some((s) => s.status === StepStatus.RUNNING) &&
    latestToUndo(snapshot, definition) === undefined
  ) {
    return { ...snapshot, status: SagaStatus.COMPENSATED };
  }
  return snapshot;
}

/**
 * Checks that `definition` is the one `snapshot` was made with.
 *
 * @throws ConvergeError `SAGA_DEFINITION_MISMATCH`.
 */
export function checkSnapshot(snapshot: SagaSnapshot, definition: SagaDefinition): void {
  const missing = definition.steps.find((step) => snapshot.steps[step.name] === undefined);
  if (snapshot.name === definition.name && snapshot.version === definition.version && missing === undefined)
    return;
  const problem =
    missing === undefined
      ? `was started with definition '${snapshot.name}' version ${snapshot.version}, not '${definition.name}' version ${definition.version}`
      : `has no state for step '${missing.name}' of the definition`;
  throw new ConvergeError(
    'SAGA_DEFINITION_MISMATCH',
    `Saga instance ${problem}; run it with the definition (name and version) it started with.`,
    { details: { saga: snapshot.name, version: snapshot.version } },
  );
}

/** The error for an event that does not fit the state: a bug in the caller, never an expected outcome. */
export function eventError(
  snapshot: SagaSnapshot,
  event: { kind: string; step?: string },
  problem: string,
): ConvergeError {
  const step = event.step === undefined ? '' : ` for step '${event.step}'`;
  return new ConvergeError(
    'SAGA_EVENT_INVALID',
    `Saga '${snapshot.name}' version ${snapshot.version} (${snapshot.status}): event '${event.kind}'${step} does not apply: ${problem}.`,
    { details: { saga: snapshot.name, event: event.kind, step: event.step ?? null } },
  );
}
