/**
 * The operators' actions on a saga (`resume`, `retry`, `compensate`, `cancel`), as pure changes of
 * its snapshot. Which action applies to which status is described at the top of
 * saga-state-machine.ts; an action that does not apply is refused with a message naming the ones
 * that do, and changes nothing.
 */
import { ConvergeError } from '../core/errors.js';
import { SagaStatus, TERMINAL_SAGA_STATUSES } from '../ports/saga-store.js';
import type { SagaDefinition } from './saga-definition.js';
import { OperatorActionKind, type OperatorEvent } from './saga-event.js';
import { type SagaSnapshot, type StepSnapshot, StepStatus } from './saga-snapshot.js';
import type { SagaChange } from './saga-steps.js';

/**
 * Applies an operator's action. The log entry's detail holds the actor and the reason. Reads only
 * the snapshot, so an operator can act without the saga's definition (`converge saga resume …`
 * runs where no definition is registered; see `applyOperatorAction`).
 *
 * @param _definition not needed; accepted while `applyEvent` still passes it.
 * @throws ConvergeError `SAGA_ACTION_INVALID` when the action does not apply to the saga's status,
 * or the actor or reason is missing.
 */
export function applyOperatorEvent(
  snapshot: SagaSnapshot,
  event: OperatorEvent,
  _definition?: SagaDefinition,
): SagaChange {
  const refuse = (problem: string) => actionError(snapshot, event, problem);
  if (typeof event.actor !== 'string' || event.actor.trim() === '') refuse('it names no actor; say who acts');
  if (typeof event.reason !== 'string' || event.reason.trim() === '')
    refuse('it gives no reason; say why (--reason "…")');
  if (TERMINAL_SAGA_STATUSES.has(snapshot.status)) refuse('the saga has ended; nothing can change it');
  const detail = { actor: event.actor, reason: event.reason };
  const change = (next: SagaSnapshot): SagaChange => ({ snapshot: next, step: null, attempt: null, detail });
  switch (event.kind) {
    case OperatorActionKind.RESUME:
      if (snapshot.status !== SagaStatus.NEEDS_ATTENTION)
        refuse('resume applies to a saga that needs attention');
      return change(undoAgain(snapshot));
    case OperatorActionKind.COMPENSATE:
      if (snapshot.status === SagaStatus.COMPENSATING) refuse('the saga is already compensating');
      return change(undoAgain(snapshot));
    case OperatorActionKind.RETRY:
      return change(retryForward(snapshot, refuse));
    case OperatorActionKind.CANCEL:
      return change({
        ...snapshot,
        status: SagaStatus.FAILED,
        reason: `Cancelled by ${event.actor}: ${event.reason}`,
      });
    default:
      return refuse(
        `'${String((event as { kind: unknown }).kind)}' is not an action; use resume, retry, compensate or cancel`,
      );
  }
}

/** Undo (again): failed compensations get fresh retries; the plan settles running steps first. */
function undoAgain(snapshot: SagaSnapshot): SagaSnapshot {
  return {
    ...snapshot,
    status: SagaStatus.COMPENSATING,
    reason: null,
    steps: mapSteps(snapshot, (state) =>
      state.status === StepStatus.COMPENSATION_FAILED
        ? { ...state, status: StepStatus.COMPENSATING, compensationFailures: 0, retryAt: null }
        : state,
    ),
  };
}

/** Forward again: failed steps get fresh retries, failed compensations are forgotten (they undid nothing). */
function retryForward(snapshot: SagaSnapshot, refuse: (problem: string) => never): SagaSnapshot {
  if (snapshot.status !== SagaStatus.NEEDS_ATTENTION && snapshot.status !== SagaStatus.COMPENSATING) {
    refuse('retry applies to a saga that needs attention or is compensating');
  }
  // The snapshot keeps its steps in the definition's order.
  const undoing = Object.entries(snapshot.steps).find(
    ([, state]) => state.status === StepStatus.COMPENSATED || state.status === StepStatus.COMPENSATING,
  );
  if (undoing !== undefined) {
    refuse(
      `step '${undoing[0]}' is already being undone or was undone, so the saga cannot go forward; use resume or compensate`,
    );
  }
  return {
    ...snapshot,
    status: SagaStatus.RUNNING,
    reason: null,
    failure: null,
    steps: mapSteps(snapshot, (state) => {
      if (state.status === StepStatus.FAILED)
        return { ...state, status: StepStatus.PENDING, failures: 0, retryAt: null };
      if (state.status === StepStatus.COMPENSATION_FAILED) {
        // Its compensation undid nothing: back to where the action left it. A step whose action
        // never succeeded (undone because its outcome was unknown) runs forward again.
        const done = state.succeededAt !== null;
        return {
          ...state,
          status: done ? StepStatus.SUCCEEDED : StepStatus.PENDING,
          ...(done ? {} : { failures: 0 }),
          compensationFailures: 0,
          retryAt: null,
        };
      }
      return state;
    }),
  };
}

function mapSteps(
  snapshot: SagaSnapshot,
  map: (state: StepSnapshot) => StepSnapshot,
): Readonly<Record<string, StepSnapshot>> {
  return Object.fromEntries(Object.entries(snapshot.steps).map(([name, state]) => [name, map(state)]));
}

function actionError(snapshot: SagaSnapshot, event: OperatorEvent, problem: string): never {
  throw new ConvergeError(
    'SAGA_ACTION_INVALID',
    `Saga '${snapshot.name}' is ${snapshot.status}: '${String(event.kind)}' does not apply: ${problem}.`,
    { details: { saga: snapshot.name, status: snapshot.status, action: event.kind } },
  );
}
