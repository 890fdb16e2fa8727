import type { DeadLetter, DeadLetterReason, ParkedMessage, PoisonPolicy } from '../../ports/inbox-store.js';
import { toNumber } from './pg-connection.js';

/*
 * Rows of the inbox tables as node-postgres returns them, and their mapping to the port's types.
 * `bigint` columns arrive as strings and become numbers here; timestamps arrive as Dates.
 */

/** A row of `converge.inbox_parked` as `pg` returns it (`bigint` as string). */
export interface ParkedRow {
  message_id: string;
  source: string;
  key: string;
  sequence: string;
  type: string;
  body: string;
  attempts: number;
  next_attempt_at: Date | null;
  last_error: string | null;
  first_failed_at: Date | null;
}

/** A row of `converge.dead_letter` as `pg` returns it. */
export interface DeadLetterRow {
  id: string;
  consumer: string;
  message_id: string | null;
  source: string | null;
  type: string | null;
  key: string | null;
  sequence: string | null;
  reason: string;
  error_class: string;
  error_message: string;
  attempts: number;
  policy: string;
  body: string;
  first_failed_at: Date;
  last_failed_at: Date;
}

/** The columns of `converge.inbox_parked` that make a `ParkedMessage`, in `ParkedRow` order. */
export const PARKED_COLUMNS =
  'message_id, source, key, sequence, type, body, attempts, next_attempt_at, last_error, first_failed_at';

/** Maps a parked row to the port's `ParkedMessage`. */
export function toParked(row: ParkedRow): ParkedMessage {
  return {
    messageId: row.message_id,
    source: row.source,
    key: row.key,
    sequence: toNumber(row.sequence),
    type: row.type,
    body: row.body,
    attempts: row.attempts,
    nextAttemptAt: row.next_attempt_at,
    lastError: row.last_error,
    firstFailedAt: row.first_failed_at,
  };
}

/** Maps a dead-letter row to the port's `DeadLetter`, with its id. */
export function toDeadLetter(row: DeadLetterRow): DeadLetter & { readonly id: number } {
  return {
    id: toNumber(row.id),
    consumer: row.consumer,
    messageId: row.message_id,
    source: row.source,
    type: row.type,
    key: row.key,
    sequence: row.sequence === null ? null : toNumber(row.sequence),
    reason: row.reason as DeadLetterReason,
    errorClass: row.error_class,
    errorMessage: row.error_message,
    attempts: row.attempts,
    policy: row.policy as PoisonPolicy,
    body: row.body,
    firstFailedAt: row.first_failed_at,
    lastFailedAt: row.last_failed_at,
  };
}
