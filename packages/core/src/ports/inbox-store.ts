import type { Transaction } from './storage.js';

/** Where a consumer stands on one (source, key) pair. */
export interface KeyState {
  /** The sequence of the last message of this key that was applied, ignored or skipped (0: none). */
  readonly lastSequence: number;
  /** The dead letter's message id that holds this key back under the `block-key` policy, or null. */
  readonly blockedBy: string | null;
}

/** A received message waiting in the inbox: for its predecessor, for a retry, or behind a dead letter. */
export interface ParkedMessage {
  readonly messageId: string;
  readonly source: string;
  readonly key: string;
  readonly sequence: number;
  readonly type: string;
  readonly body: string;
  /** Failed attempts so far (0: it only waits for its turn). */
  readonly attempts: number;
  /** Not before this time (null: as soon as it is its turn). */
  readonly nextAttemptAt: Date | null;
  readonly lastError: string | null;
  readonly firstFailedAt: Date | null;
}

/** How a receipt ended. */
export type ReceiptOutcome = 'applied' | 'ignored' | 'dead-lettered';

/** What a consumer records about a message it handled (one per consumer and message id). */
export interface Receipt {
  readonly messageId: string;
  readonly source: string;
  readonly key: string;
  readonly sequence: number;
  readonly outcome: ReceiptOutcome;
  /**
   * `payloadHash` of the message (see `src/core/payload-hash.ts`), so a later message reusing
   * the id with another payload is told apart (`DUPLICATE_ID_CONFLICT`). Null: unknown (a receipt
   * from before schema version 3, or written by a replay, whose payload an operator may have edited).
   */
  readonly payloadHash: string | null;
}

/** Stable reason codes of dead letters. */
export const DeadLetterReason = {
  MALFORMED: 'MALFORMED',
  MISSING_ATTRIBUTE: 'MISSING_ATTRIBUTE',
  UNKNOWN_TYPE: 'UNKNOWN_TYPE',
  SCHEMA_INVALID: 'SCHEMA_INVALID',
  OVERSIZED: 'OVERSIZED',
  HANDLER_TERMINAL_ERROR: 'HANDLER_TERMINAL_ERROR',
  HANDLER_RETRIES_EXHAUSTED: 'HANDLER_RETRIES_EXHAUSTED',
  HANDLER_TIMEOUT: 'HANDLER_TIMEOUT',
  DUPLICATE_ID_CONFLICT: 'DUPLICATE_ID_CONFLICT',
} as const;
export type DeadLetterReason = (typeof DeadLetterReason)[keyof typeof DeadLetterReason];

/** What happens to the later messages of a key after one of its messages is dead-lettered. */
export type PoisonPolicy = 'block-key' | 'skip';

/** A message a consumer gave up on, with everything needed to understand and replay it. */
export interface DeadLetter {
  readonly consumer: string;
  /** Null when the envelope was too malformed to carry an id. */
  readonly messageId: string | null;
  readonly source: string | null;
  readonly type: string | null;
  readonly key: string | null;
  readonly sequence: number | null;
  readonly reason: DeadLetterReason;
  readonly errorClass: string;
  readonly errorMessage: string;
  /** Groups failures of one cause: reason + error class + message with ids and numbers stripped. */
  readonly fingerprint: string;
  readonly attempts: number;
  readonly policy: PoisonPolicy;
  /** Where the message was going: the consumer group it was delivered to. */
  readonly destination: string | null;
  /** The envelope's attributes other than `data` (empty when the body was not a JSON object). */
  readonly headers: Readonly<Record<string, string>>;
  /** The message as received (possibly not even JSON), cut at the payload cap. */
  readonly body: string;
  /** sha256 (hex) and UTF-8 size of the whole message as received. */
  readonly bodySha256: string;
  readonly bodyBytes: number;
  /** True when `body` was cut at the cap. */
  readonly bodyTruncated: boolean;
  readonly firstFailedAt: Date;
  readonly lastFailedAt: Date;
}

/** Where a dead letter stands: waiting for a decision, being replayed, replayed, or archived. */
export type DeadLetterStatus = 'open' | 'replaying' | 'replayed' | 'archived';

/** A dead letter as stored. */
export interface StoredDeadLetter extends DeadLetter {
  readonly id: number;
  readonly status: DeadLetterStatus;
}

/** An operator's replacement for a dead letter's stored message (see `replaceDeadLetterBody`). */
export interface DeadLetterBodyReplacement {
  readonly body: string;
  /** sha256 (hex) and UTF-8 size of `body`. */
  readonly bodySha256: string;
  readonly bodyBytes: number;
}

/** One entry of a dead letter's audit trail: who did what, when and why. */
export interface DeadLetterAuditEntry {
  readonly at: Date;
  readonly actor: string;
  readonly action: string;
  readonly detail: string;
}

/**
 * A consumer's inbox in its own database: receipts (what was handled), key positions, parked
 * messages and dead letters. Every method taking `tx` runs inside the consumer's transaction, so
 * the handler's effect, the receipt and the key's new position commit together or not at all.
 */
export interface InboxStore {
  /**
   * Returns the key's state, creating it at 0 when new, and locks it until `tx` ends, so two
   * deliveries of one key never apply concurrently.
   */
  lockKey(tx: Transaction, consumer: string, source: string, key: string): Promise<KeyState>;
  setKey(tx: Transaction, consumer: string, source: string, key: string, state: KeyState): Promise<void>;
  /**
   * Records that `messageId` was handled; `'duplicate'` when a receipt of that id already exists
   * (nothing written: one statement either way, so the inbox learns of a reused id for free).
   */
  recordReceipt(tx: Transaction, consumer: string, receipt: Receipt): Promise<'recorded' | 'duplicate'>;
  hasReceipt(tx: Transaction, consumer: string, messageId: string): Promise<boolean>;
  /** The receipt of `messageId`, or null. */
  findReceipt(tx: Transaction, consumer: string, messageId: string): Promise<Receipt | null>;
  /** What happened to `messageId`, or null when it has no receipt. */
  receiptOutcome(tx: Transaction, consumer: string, messageId: string): Promise<ReceiptOutcome | null>;
  /** Changes the outcome of an existing receipt (a replayed dead letter that was skipped is now applied). */
  setReceiptOutcome(
    tx: Transaction,
    consumer: string,
    messageId: string,
    outcome: ReceiptOutcome,
  ): Promise<void>;
  /** Parks a message; `'duplicate'` (nothing written) when it is already parked. */
  park(tx: Transaction, consumer: string, message: ParkedMessage): Promise<'parked' | 'duplicate'>;
  /** Replaces the retry bookkeeping of a parked message. */
  updateParked(
    tx: Transaction,
    consumer: string,
    messageId: string,
    update: {
      readonly attempts: number;
      readonly nextAttemptAt: Date | null;
      readonly lastError: string | null;
      readonly firstFailedAt: Date | null;
    },
  ): Promise<void>;
  /** Whether any message of `consumer` is parked (a cheap check that lets a batch skip lookups). */
  hasParked(tx: Transaction, consumer: string): Promise<boolean>;
  /** The parked message with exactly this key and sequence, if any. */
  findParked(
    tx: Transaction,
    consumer: string,
    source: string,
    key: string,
    sequence: number,
  ): Promise<ParkedMessage | null>;
  deleteParked(tx: Transaction, consumer: string, messageId: string): Promise<void>;
  /**
   * Parked messages that are next in line for their key (sequence = lastSequence + 1, key not
   * blocked) and due (`nextAttemptAt` null or ≤ `now`), oldest first.
   */
  dueParked(consumer: string, now: Date, limit: number): Promise<ParkedMessage[]>;
  /** Stores a dead letter inside `tx`. */
  addDeadLetter(tx: Transaction, deadLetter: DeadLetter): Promise<void>;
  /**
   * For a body that is no usable envelope (no key, no receipt): when this consumer already has a
   * dead letter of it (same reason and payload sha256), notes the repeat on that one (its
   * `lastFailedAt` and an audit entry) and returns true; returns false when there is none.
   * Keeps a redelivery (after a crash before the acknowledgement) from adding a second letter.
   */
  noteRepeatedUnkeyedDeadLetter(tx: Transaction, deadLetter: DeadLetter): Promise<boolean>;
  /** Dead letter `id`, or null. */
  getDeadLetter(id: number): Promise<StoredDeadLetter | null>;
  /**
   * Moves dead letter `id` to `to` if its status is one of `from`, and appends `audit` to its
   * trail, inside `tx`. Returns false (nothing written) when it is not in `from` or does not exist.
   */
  transitionDeadLetter(
    tx: Transaction,
    id: number,
    from: readonly DeadLetterStatus[],
    to: DeadLetterStatus,
    audit: { readonly actor: string; readonly action: string; readonly detail: string },
  ): Promise<boolean>;
  /**
   * Replaces the stored message of dead letter `id` (an operator's edit) if it is `open` and its
   * body still has sha256 `expectedSha256`, so a concurrent edit is never overwritten unseen, and
   * appends `audit` to its trail, inside `tx`. The replacement is stored whole (not cut at the
   * payload cap). Returns false (nothing written) otherwise.
   */
  replaceDeadLetterBody(
    tx: Transaction,
    id: number,
    expectedSha256: string,
    replacement: DeadLetterBodyReplacement,
    audit: { readonly actor: string; readonly action: string; readonly detail: string },
  ): Promise<boolean>;
  /**
   * Open dead letters of `consumer` with one of `reasons`, oldest first, leaving out messages that
   * already have more than `maxPerMessage` dead letters (they were redriven enough).
   */
  openDeadLetters(
    consumer: string,
    reasons: readonly DeadLetterReason[],
    maxPerMessage: number,
    limit: number,
  ): Promise<StoredDeadLetter[]>;
  /** Dead letters of `consumer` waiting to be replayed (status `replaying`), oldest first. */
  replayingDeadLetters(consumer: string, limit: number): Promise<StoredDeadLetter[]>;
  /** The audit trail of dead letter `id`, oldest first (its first entry records its creation). */
  deadLetterAudit(id: number): Promise<DeadLetterAuditEntry[]>;
  /** Dead letters of a consumer (all consumers when omitted), oldest first. */
  listDeadLetters(consumer?: string): Promise<StoredDeadLetter[]>;
  /** Counts, for status and tests. */
  counts(
    consumer: string,
  ): Promise<{ readonly receipts: number; readonly parked: number; readonly deadLetters: number }>;
}
