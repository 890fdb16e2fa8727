/**
 * What makes two deliveries of one message id "the same message": its payload hash.
 *
 * The hash covers what decides a message's effect — `source`, `type`, `subject`, `sequence` and
 * `data` — and leaves out what a sender may legitimately change on a re-send (`time`,
 * `traceparent`, `correlationid`, `causationid`, `specversion`, other extensions). So a producer
 * that re-sends an event with a new timestamp sends a harmless duplicate, while one that reuses an
 * id for different data (or for another key or position) sends a `DUPLICATE_ID_CONFLICT`, the way
 * an idempotency key reused with other parameters is refused (Stripe's idempotent requests) rather
 * than silently taken for the first request.
 *
 * `data` is hashed as `JSON.stringify` gives it back from the parsed body: the same object sent
 * twice hashes the same; the same values in another key order do not (this is not canonical JSON,
 * which would cost a sorted walk of every message on the consumer's hot path).
 */
import { createHash } from 'node:crypto';
import type { Envelope } from './envelope.js';

/**
 * The payload hash of a parsed envelope: 32 hex characters (the first half of a sha256).
 *
 * @example payloadHash(parseEnvelope(body).envelope) // 'c3ab8ff13720e8ad9047dd39466b3c89'
 */
export function payloadHash(envelope: Envelope): string {
  const identity = JSON.stringify([
    envelope.source,
    envelope.type,
    envelope.subject,
    envelope.sequence,
    envelope.data,
  ]);
  return createHash('sha256').update(identity).digest('hex').slice(0, 32);
}
