/**
 * How the inbox turns a failure into a `DeadLetter`: what it knows of the message and the failure,
 * completed with the fingerprint, the headers and the capped payload (ADR 0010).
 */
import { capPayload, failureFingerprint, headersOf } from '../core/dead-letter-record.js';
import type { Envelope } from '../core/envelope.js';
import type { DeadLetter, DeadLetterReason, PoisonPolicy } from '../ports/inbox-store.js';

/** What the inbox knows of a failure; `completeDeadLetter` makes a `DeadLetter` of it. */
export type DeadLetterFailure = Omit<
  DeadLetter,
  'consumer' | 'fingerprint' | 'destination' | 'headers' | 'bodySha256' | 'bodyBytes' | 'bodyTruncated'
>;

/** The failure of a message that parsed: its id, key and position are known. */
export function keyedFailure(
  envelope: Envelope,
  body: string,
  failure: {
    readonly reason: DeadLetterReason;
    readonly errorClass: string;
    readonly message: string;
    readonly attempts: number;
    readonly policy: PoisonPolicy;
    readonly firstFailedAt: Date;
  },
  now: Date,
): DeadLetterFailure {
  return {
    messageId: envelope.id,
    source: envelope.source,
    type: envelope.type,
    key: envelope.subject,
    sequence: envelope.sequence,
    reason: failure.reason,
    errorClass: failure.errorClass,
    errorMessage: failure.message,
    attempts: failure.attempts,
    policy: failure.policy,
    body,
    firstFailedAt: failure.firstFailedAt,
    lastFailedAt: now,
  };
}

/** The failure of a body that is no usable envelope: only its id, if it has one, is known. */
export function unkeyedFailure(
  body: string,
  reason: DeadLetterReason,
  detail: string,
  now: Date,
): DeadLetterFailure {
  let messageId: string | null = null;
  try {
    const value = JSON.parse(body) as { id?: unknown };
    if (typeof value?.id === 'string') messageId = value.id;
  } catch {
    // Not JSON: nothing more to learn from it.
  }
  return {
    messageId,
    source: null,
    type: null,
    key: null,
    sequence: null,
    reason,
    errorClass: 'InvalidEnvelope',
    errorMessage: detail,
    attempts: 0,
    policy: 'skip',
    body,
    firstFailedAt: now,
    lastFailedAt: now,
  };
}

/** Completes a dead letter of `consumer`: fingerprint, headers, capped payload, destination. */
export function completeDeadLetter(
  failure: DeadLetterFailure,
  consumer: string,
  maxBodyBytes: number,
): DeadLetter {
  const payload = capPayload(failure.body, maxBodyBytes);
  return {
    ...failure,
    consumer,
    fingerprint: failureFingerprint(failure.reason, failure.errorClass, failure.errorMessage),
    destination: consumer,
    headers: headersOf(failure.body),
    body: payload.body,
    bodySha256: payload.sha256,
    bodyBytes: payload.bytes,
    bodyTruncated: payload.truncated,
  };
}
