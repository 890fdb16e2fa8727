/**
 * An operator's action on a stored saga, without its definition: what `converge saga resume|retry|
 * compensate|cancel` records with `SagaStore.intervene`. The command line runs where the user's
 * definitions are not registered, and an operator's action needs only the snapshot.
 *
 * What the definition would add is settling: `applyEvent` ends a saga whose undoing has nothing
 * left (no step with a compensation that may have applied its effect) as `compensated` at once.
 * Here the saga is ended only when that is certain from the snapshot alone (no step may have
 * applied its effect); otherwise it stays `compensating`, runnable now, and the orchestrator that
 * claims it next settles it with the definition.
 */
import { ConvergeError } from '../core/errors.js';
import { SagaStatus } from '../ports/saga-store.js';
import type { OperatorEvent } from './saga-event.js';
import { applyOperatorEvent } from './saga-operator-actions.js';
import { type SagaSnapshot, StepStatus } from './saga-snapshot.js';
import type { SagaTransitionResult } from './saga-state-machine.js';
import { mayHaveApplied } from './saga-steps.js';

/**
 * Applies `event` to the saga whose stored snapshot is `stored`: the next snapshot and the write to
 * record with `store.intervene(id, write)`. The write makes the saga runnable now (`wakeAt`
 * null): the intervention fences off any holder, so every attempt in flight is re-issued (same
 * idempotency key) by the orchestrator that claims it next.
 *
 * @throws ConvergeError `SAGA_ACTION_INVALID` when the action does not apply to the saga's status
 * (the message names why), or the actor or reason is missing; `SAGA_SNAPSHOT_INVALID` when
 * `stored` is not a snapshot this version reads.
 * @example
 * const record = await storage.sagas.get(id);
 * const { write } = applyOperatorAction(record.snapshot, { kind: 'resume', actor: 'alice', reason: 'card processor fixed' }, new Date());
 * await storage.sagas.intervene(id, write);
 */
export function applyOperatorAction(stored: unknown, event: OperatorEvent, now: Date): SagaTransitionResult {
  const snapshot = readSnapshot(stored);
  const change = applyOperatorEvent(snapshot, event);
  const next = settleWithoutDefinition({ ...change.snapshot, updatedAt: now.toISOString() });
  return {
    snapshot: next,
    write: {
      status: next.status,
      snapshot: next,
      wakeAt: null,
      reason: next.reason,
      transition: { kind: event.kind, step: change.step, attempt: change.attempt, detail: change.detail },
      at: now,
    },
  };
}

/** `compensated` when undoing has certainly nothing to do: no step is in flight or may have applied its effect. */
function settleWithoutDefinition(snapshot: SagaSnapshot): SagaSnapshot {
  if (snapshot.status !== SagaStatus.COMPENSATING) return snapshot;
  const busy = Object.values(snapshot.steps).some(
    (state) =>
      state.status === StepStatus.RUNNING ||
      state.status === StepStatus.COMPENSATING ||
      mayHaveApplied(state),
  );
  return busy ? snapshot : { ...snapshot, status: SagaStatus.COMPENSATED };
}

const STATUSES: ReadonlySet<unknown> = new Set(Object.values(SagaStatus));
const STEP_STATUSES: ReadonlySet<unknown> = new Set(Object.values(StepStatus));

function readSnapshot(stored: unknown): SagaSnapshot {
  const value = stored as Partial<SagaSnapshot> | null;
  const steps = typeof value?.steps === 'object' && value.steps !== null ? Object.values(value.steps) : null;
  const sound =
    value?.format === 1 &&
    typeof value.name === 'string' &&
    STATUSES.has(value.status) &&
    steps?.every((step) => STEP_STATUSES.has((step as { status?: unknown } | null)?.status));
  if (sound) return value as SagaSnapshot;
  const format: unknown = value?.format;
  throw new ConvergeError(
    'SAGA_SNAPSHOT_INVALID',
    `The saga's stored state is not a snapshot this version of Converge reads (format ${JSON.stringify(format ?? null)}); act on it with the Converge version its orchestrator runs.`,
    { details: { format: format ?? null } },
  );
}
