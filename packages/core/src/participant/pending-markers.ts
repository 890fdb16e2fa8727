/**
 * The participant's side of pending markers (see `PendingMarkerStore`), keyed on the saga call's
 * `Idempotency-Key` (`<sagaId>:<step>`, `<sagaId>:<step>:compensate`): a step marks the rows it
 * changes in its own transaction; its compensation, or the call that tells the participant the
 * saga completed, clears them in its own. Readers skip marked rows with `skipPending`.
 */
import { ConvergeError } from '../core/errors.js';
import type { MarkOutcome, PendingTarget } from '../ports/pending-marker-store.js';
import type { Storage, Transaction } from '../ports/storage.js';
import { STEP_NAME_PATTERN } from '../saga/define-saga.js';

/** Which saga call an idempotency key belongs to. */
export interface SagaCallKey {
  readonly sagaId: string;
  readonly step: string;
  /** True for a compensation's key. */
  readonly compensation: boolean;
}

/**
 * Reads the saga and step from an orchestrator call's idempotency key; undefined for any other key.
 *
 * @example sagaCallOf('0190…:billing:compensate') // { sagaId: '0190…', step: 'billing', compensation: true }
 */
export function sagaCallOf(idempotencyKey: string | null | undefined): SagaCallKey | undefined {
  const [sagaId, step, suffix, ...rest] = typeof idempotencyKey === 'string' ? idempotencyKey.split(':') : [];
  const compensation = suffix === 'compensate';
  if (!sagaId || step === undefined || !STEP_NAME_PATTERN.test(step)) return undefined;
  if (rest.length > 0 || (suffix !== undefined && !compensation)) return undefined;
  return { sagaId, step, compensation };
}

/**
 * Marks `target` as changed by the saga step that sent `idempotencyKey`, inside the step's
 * transaction `tx` (from `idempotentHandler`, the Hono middleware or `runIdempotent`): the marker
 * commits with the effect, or not at all.
 *
 * @returns `marked`, or `held` with the marker of the other saga that holds the row (answer it
 *   with a refusal such as 409 if your step must not share the row).
 * @throws ConvergeError `PENDING_MARK_WITHOUT_SAGA` when the key is not a saga step's key.
 * @example
 * idempotentHandler({ storage, scope: 'profile' }, async (request, tx) => {
 *   await tx.execute('UPDATE customer SET status = ? WHERE id = ?', ['unsubscribed', id]);
 *   await markPending(storage, tx, request.idempotencyKey, { resource: 'customer', key: id });
 *   return { status: 200, body: { ok: true } };
 * });
 */
export async function markPending(
  storage: Storage,
  tx: Transaction,
  idempotencyKey: string | null | undefined,
  target: PendingTarget,
): Promise<MarkOutcome> {
  const call = sagaCallOf(idempotencyKey);
  if (call === undefined || call.compensation) {
    throw new ConvergeError(
      'PENDING_MARK_WITHOUT_SAGA',
      `Cannot mark ${target.resource} '${target.key}' as pending: the request's Idempotency-Key ${JSON.stringify(idempotencyKey ?? null)} is not a saga step's ('<sagaId>:<step>'); mark only in a step called by an orchestrator.`,
      { details: { resource: target.resource, key: target.key } },
    );
  }
  return storage.pendingMarkers.mark(tx, { ...target, sagaId: call.sagaId, step: call.step }, new Date());
}

/**
 * Clears the markers of the saga that sent `idempotencyKey`, inside `tx`: from a compensation's
 * key, only the markers of the compensated step (an earlier step of the same saga may still be
 * undone later); from any other key of the saga (the call that tells the participant the saga
 * completed), all of the saga's markers here. Clearing what is not marked does nothing.
 *
 * @returns how many markers were removed.
 * @throws ConvergeError `PENDING_MARK_WITHOUT_SAGA` when the key is not a saga call's key.
 */
export function settlePending(
  storage: Storage,
  tx: Transaction,
  idempotencyKey: string | null | undefined,
): Promise<number> {
  const call = sagaCallOf(idempotencyKey);
  if (call === undefined) {
    throw new ConvergeError(
      'PENDING_MARK_WITHOUT_SAGA',
      `Cannot clear pending markers: the request's Idempotency-Key ${JSON.stringify(idempotencyKey ?? null)} is not a saga call's ('<sagaId>:<step>' or '<sagaId>:<step>:compensate').`,
    );
  }
  return call.compensation
    ? storage.pendingMarkers.clear(tx, call.sagaId, call.step)
    : storage.pendingMarkers.clear(tx, call.sagaId);
}
