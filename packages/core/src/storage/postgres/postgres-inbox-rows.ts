import { parseStoredHeaders } from '../../core/dead-letter-record.js';
import type {
  DeadLetterReason,
  DeadLetterStatus,
  ParkedMessage,
  PoisonPolicy,
  StoredDeadLetter,
} from '../../ports/inbox-store.js';
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
  fingerprint: string;
  destination: string | null;
  headers: string;
  body: string;
  body_sha256: string;
  body_bytes: number;
  body_truncated: boolean;
  status: string;
  first_failed_at: Date;
  last_failed_at: Date;
}

/** The columns of `converge.dead_letter` that make a `StoredDeadLetter`. */
export const DEAD_LETTER_COLUMNS = `id, consumer, message_id, source, type, key, sequence, reason, error_class, error_message,
  attempts, policy, fingerprint, destination, headers, body, body_sha256, body_bytes, body_truncated, status,
  first_failed_at, last_failed_at`;

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
export function toDeadLetter(row: DeadLetterRow): StoredDeadLetter {
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
    fingerprint: row.fingerprint,
    attempts: row.attempts,
    policy: row.policy as PoisonPolicy,
    destination: row.destination,
    headers: parseStoredHeaders(row.headers),
    body: row.body,
    bodySha256: row.body_sha256,
    bodyBytes: row.body_bytes,
    bodyTruncated: row.body_truncated,
    status: row.status as DeadLetterStatus,
    firstFailedAt: row.first_failed_at,
    lastFailedAt: row.last_failed_at,
  };
}
