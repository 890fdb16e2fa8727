/**
 * When a message id the consumer already knows arrives again, is it the same message (a harmless
 * duplicate) or another message reusing the id (`DUPLICATE_ID_CONFLICT`)?
 *
 * Two messages are the same when they sit at the same position (source, key, sequence) and their
 * payload hashes agree. A different position settles it without a hash: the id was reused for
 * another message. At the same position, an unknown hash (a receipt from before schema version 3,
 * or written by a replay) gives the benefit of the doubt: a harmless duplicate, as before.
 */
import type { Envelope } from '../core/envelope.js';
import { parseEnvelope } from '../core/envelope.js';
import { payloadHash } from '../core/payload-hash.js';
import type { ParkedMessage, Receipt } from '../ports/inbox-store.js';

/** Where a message or a receipt sits. */
interface Position {
  readonly source: string;
  readonly key: string;
  readonly sequence: number;
}

const positionOf = (envelope: Envelope): Position => ({
  source: envelope.source,
  key: envelope.subject,
  sequence: envelope.sequence,
});

const describe = (p: Position) => `source '${p.source}', key '${p.key}', sequence ${p.sequence}`;

/** True when `receipt` records the position `envelope` claims. */
export function samePosition(receipt: Position, envelope: Envelope): boolean {
  return (
    receipt.source === envelope.source &&
    receipt.key === envelope.subject &&
    receipt.sequence === envelope.sequence
  );
}

/**
 * Why `envelope` (payload hash `hash`) conflicts with the existing receipt of its id, or null when
 * it is the same message.
 */
export function receiptConflict(receipt: Receipt, envelope: Envelope, hash: string): string | null {
  if (!samePosition(receipt, envelope)) {
    return `message id ${envelope.id} was already received for ${describe(receipt)} (${receipt.outcome}); this message, for ${describe(positionOf(envelope))}, reuses it and is not applied. Every distinct message needs its own id`;
  }
  if (receipt.payloadHash === null || receipt.payloadHash === hash) return null;
  return `message id ${envelope.id} (${describe(receipt)}) was already received (${receipt.outcome}) with another payload (hash ${receipt.payloadHash}, this one ${hash}); the first one counts and this one is not applied. Every distinct message needs its own id`;
}

/**
 * Why `envelope` conflicts with `parked`, a parked message at its position (null: the same
 * message, or `parked` carries another id, which says nothing about this one).
 */
export function parkedConflict(parked: ParkedMessage, envelope: Envelope, hash: string): string | null {
  if (parked.messageId !== envelope.id) return null;
  const waiting = parseEnvelope(parked.body);
  if (waiting.ok && payloadHash(waiting.envelope) === hash) return null;
  return `message id ${envelope.id} (${describe(positionOf(envelope))}) is already waiting in the inbox with another payload; the first one counts and this one is not applied. Every distinct message needs its own id`;
}

/** Why `envelope` conflicts with a parked message of the same id at another position. */
export function parkedElsewhere(envelope: Envelope): string {
  return `message id ${envelope.id} is already waiting in the inbox for another position; this message, for ${describe(positionOf(envelope))}, reuses it and is not applied. Every distinct message needs its own id`;
}
