/**
 * What the inbox does with one received message, inside the consumer's transaction.
 *
 * A message of key K (per source) with sequence s, while the consumer's key state says the last
 * handled sequence is `last`:
 * - s ≤ last, or it is the very dead letter that blocks K: a duplicate; acknowledged, no effect —
 *   unless its id's receipt records this position with another payload hash: then it reused the id
 *   of the message applied there, and is dead-lettered `DUPLICATE_ID_CONFLICT` (policy `skip`: the
 *   key has moved on).
 * - K is blocked by a dead letter, or s > last + 1: *parked* — it waits in the inbox for its
 *   predecessor (or for the dead letter to be replayed); the transport is acknowledged.
 * - s = last + 1: *applied*. The receipt is written first (`INSERT … ON CONFLICT DO NOTHING`),
 *   so a message id the consumer already recorded is found by the statement that had to run
 *   anyway: at another position, or with another payload hash, it is a `DUPLICATE_ID_CONFLICT`
 *   and the handler never runs. A type the subscription does not handle is acknowledged without
 *   effect and still advances K (so nobody waits forever for a number it ignores). Otherwise the
 *   handler runs (at most `handlerTimeoutMs`); on success the new key state is written in the same
 *   transaction as the handler's effect and the receipt. Then the parked successors of K that are
 *   due are applied in turn ("drained").
 * - Refused before the handler: an oversized body, an unknown type (with `rejectUnknownTypes`),
 *   a handled message whose body was damaged by invalid UTF-8 (`MALFORMED`), data that fails its
 *   schema.
 * - The handler failed: a `TerminalError` or exhausted retries go to the dead letters
 *   (`HANDLER_TIMEOUT` when the last attempt timed out); then the poison policy decides:
 *   `block-key` keeps K's later messages parked behind the dead letter (order preserved), `skip`
 *   advances K past it. Any other error, a timeout included, parks the message with its attempt
 *   count and the time of its next attempt (exponential backoff, equal jitter); the retry loop
 *   picks it up when due.
 * - An envelope too malformed to carry a key is dead-lettered with the `skip` policy. A message
 *   reusing the id of a parked message at another position, or at its own with another payload,
 *   is dead-lettered `DUPLICATE_ID_CONFLICT` with the `skip` policy (the parked one holds the place).
 *
 * Batches run in one of two modes (see `Batch`). *Optimistic*: handlers run without a savepoint,
 * and a handler failure aborts the whole batch (`OptimisticBatchFailed`), which the inbox then
 * runs again *carefully*: each handler under a savepoint, so a failure rolls back only that
 * handler's writes and the rules above apply. Most batches have no failure, and skip two
 * statements per message. Nothing is applied twice either way: the batch's transaction commits
 * only once, with everything it applied.
 */

import { type Envelope, parseEnvelope, textDamage } from '../core/envelope.js';
import { describeError, isRetryableError, isTerminalError } from '../core/errors.js';
import { payloadHash } from '../core/payload-hash.js';
import { backoffDelayMs, type RetryPolicy } from '../core/retry-policy.js';
import {
  type DeadLetterReason,
  type InboxStore,
  type KeyState,
  type ParkedMessage,
  type PoisonPolicy,
  DeadLetterReason as Reason,
  type Receipt,
  type ReceiptOutcome,
  type StoredDeadLetter,
} from '../ports/inbox-store.js';
import type { Transaction } from '../ports/storage.js';
import {
  completeDeadLetter,
  type DeadLetterFailure,
  keyedFailure,
  unkeyedFailure,
} from './dead-letter-draft.js';
import { parkedConflict, parkedElsewhere, receiptConflict, samePosition } from './duplicate-id.js';
import { isHandlerTimeout, runHandlerAttempt } from './handler-attempt.js';
import type { DataValidator } from './message-schemas.js';

/** Handles one message inside the consumer's transaction. Throw `TerminalError` to give up at once. */
export type MessageHandler<TData = unknown> = (message: Envelope<TData>, tx: Transaction) => Promise<void>;

export interface ProcessorConfig {
  readonly consumer: string;
  readonly store: InboxStore;
  readonly handler: MessageHandler;
  /** Types handled; null: every type. */
  readonly types: ReadonlySet<string> | null;
  /** Sources subscribed to; null: every source. */
  readonly sources: ReadonlySet<string> | null;
  readonly rejectUnknownTypes: boolean;
  readonly poisonPolicy: PoisonPolicy;
  readonly retry: RetryPolicy;
  readonly maxMessageBytes: number;
  /** Most parked successors applied after one message, per transaction. */
  readonly maxDrain: number;
  /** Dead-letter payloads are cut at this many bytes. */
  readonly maxDeadLetterBodyBytes: number;
  /** Checks a handled message's data against its type's schema (see `compileSchemas`). */
  readonly validateData: DataValidator;
  /** Longest a handler call may take; false: no limit. */
  readonly handlerTimeoutMs: number | false;
}

interface Attempt {
  readonly envelope: Envelope;
  readonly body: string;
  readonly parked: ParkedMessage | null;
  /**
   * An operator's replay: its receipt gets no payload hash (the payload may have been edited), and
   * it is applied even when its id's receipt belongs to another message (the operator decided).
   */
  readonly replay: boolean;
}

/** Why a message is refused before its handler runs. */
interface Refusal {
  readonly reason: DeadLetterReason;
  readonly errorClass: string;
  readonly message: string;
}

type Outcome = { readonly advanced: KeyState } | { readonly waiting: true };

/** What one batch (one transaction) knows and how it runs its handlers. */
export interface Batch {
  /** False once a batch-start check found no parked message of this consumer, and none was parked since. */
  anyParked: boolean;
  /** Run handlers without a savepoint; a handler failure throws `OptimisticBatchFailed`. */
  readonly optimistic: boolean;
  /** Handler failures in this batch (careful mode). */
  handlerFailures: number;
}

/** A handler failed in an optimistic batch: roll the transaction back and run the batch carefully. */
export class OptimisticBatchFailed extends Error {
  constructor(cause: unknown) {
    super('a handler failed in an optimistic batch; the batch runs again with a savepoint per message', {
      cause,
    });
    this.name = 'OptimisticBatchFailed';
  }
}

const SAVEPOINT = 'converge_handler';

/** Applies the state machine above to received messages and to due parked ones. */
export class MessageProcessor {
  readonly #config: ProcessorConfig;
  #applied = 0;

  /** Messages whose handler succeeded so far (a sign the consumer's dependencies are up). */
  get applied(): number {
    return this.#applied;
  }

  constructor(config: ProcessorConfig) {
    this.#config = config;
  }

  /** Handles a message as it came off the transport. */
  async receive(tx: Transaction, body: string, now: Date, batch: Batch): Promise<void> {
    const parsed = parseEnvelope(body);
    if (!parsed.ok) {
      const problem = parsed.problem;
      // No receipt can record it, so a redelivery of the same body notes itself on the first letter.
      const { consumer, maxDeadLetterBodyBytes, store } = this.#config;
      const letter = completeDeadLetter(
        unkeyedFailure(body, problem.reason, problem.detail, now),
        consumer,
        maxDeadLetterBodyBytes,
      );
      if (!(await store.noteRepeatedUnkeyedDeadLetter(tx, letter))) await store.addDeadLetter(tx, letter);
      return;
    }
    const envelope = parsed.envelope;
    if (this.#config.sources !== null && !this.#config.sources.has(envelope.source)) return;
    const { consumer, store } = this.#config;
    const state = await store.lockKey(tx, consumer, envelope.source, envelope.subject);
    if (envelope.sequence <= state.lastSequence) {
      await this.#checkRepeat(tx, envelope, body, now);
      return;
    }
    if (state.blockedBy === envelope.id) return;
    const attempt: Attempt = { envelope, body, parked: null, replay: false };
    if (state.blockedBy !== null || envelope.sequence > state.lastSequence + 1) {
      await this.#park(tx, attempt, now);
      batch.anyParked = true;
      return;
    }
    if (batch.anyParked) {
      const waiting = await store.findParked(
        tx,
        consumer,
        envelope.source,
        envelope.subject,
        envelope.sequence,
      );
      if (waiting !== null) {
        // Already waiting for a retry (a redelivery of a message that failed): the retry loop owns
        // it — unless this is another message reusing its id.
        const conflict = parkedConflict(waiting, envelope, payloadHash(envelope));
        if (conflict !== null) await this.#recordConflict(tx, envelope, body, conflict, now);
        return;
      }
    }
    const outcome = await this.#apply(tx, attempt, state, now, batch);
    if ('advanced' in outcome && batch.anyParked)
      await this.#drain(tx, envelope, outcome.advanced, now, batch);
  }

  /** Retries a parked message that `dueParked` reported (re-checking its turn under the key lock). */
  async retry(tx: Transaction, parked: ParkedMessage, now: Date): Promise<void> {
    const batch: Batch = { anyParked: true, optimistic: false, handlerFailures: 0 };
    const { consumer, store } = this.#config;
    const state = await store.lockKey(tx, consumer, parked.source, parked.key);
    if (state.blockedBy !== null || parked.sequence !== state.lastSequence + 1) return;
    const parsed = parseEnvelope(parked.body);
    if (!parsed.ok) return;
    const attempt: Attempt = { envelope: parsed.envelope, body: parked.body, parked, replay: false };
    const outcome = await this.#apply(tx, attempt, state, now, batch);
    if ('advanced' in outcome) await this.#drain(tx, parsed.envelope, outcome.advanced, now, batch);
  }

  /**
   * Replays a dead letter an operator asked for (status `replaying`), through the same inbox:
   * - already applied (receipt `applied` at its position): nothing happens a second time (with
   *   another payload there, it goes back to `open`: a position is applied once);
   * - the dead letter blocks its key (`block-key`): the key is unblocked and the message applied
   *   in its place, then the successors that waited behind it, in order; if it fails again it is
   *   parked for a retry or becomes a new dead letter, as any message would;
   * - its key moved on (`skip`): the handler runs now, out of order, as the operator decided, and
   *   the key's position stays where it is;
   * - anything else (the key is not where the dead letter left it): back to `open`, with the reason.
   * A replayed `DUPLICATE_ID_CONFLICT` is applied even though its id has another message's receipt
   * (that receipt stays as it is). Every outcome is added to the dead letter's audit trail.
   */
  async replay(tx: Transaction, letter: StoredDeadLetter, now: Date): Promise<void> {
    const { consumer, store } = this.#config;
    const actor = `converge:${consumer}`;
    const finish = (to: 'replayed' | 'open', detail: string) =>
      store.transitionDeadLetter(tx, letter.id, ['replaying'], to, {
        actor,
        action: to === 'replayed' ? 'replayed' : 'replay-failed',
        detail,
      });
    const parsed = parseEnvelope(letter.body);
    if (!parsed.ok || letter.bodyTruncated) {
      await finish('open', 'the stored message cannot be replayed (unparseable or cut at the payload cap)');
      return;
    }
    const envelope = parsed.envelope;
    const state = await store.lockKey(tx, consumer, envelope.source, envelope.subject);
    const receipt = await store.findReceipt(tx, consumer, envelope.id);
    if (receipt?.outcome === 'applied' && samePosition(receipt, envelope)) {
      if (receipt.payloadHash === null || receipt.payloadHash === payloadHash(envelope))
        await finish('replayed', 'already applied; nothing was applied a second time');
      else
        await finish(
          'open',
          `message ${envelope.id} was already applied at this position with another payload, and a position is applied once, so this one was not; archive it, or have the producer send it as a new message`,
        );
      return;
    }
    const batch: Batch = { anyParked: true, optimistic: false, handlerFailures: 0 };
    if (state.blockedBy === envelope.id) {
      const unblocked = { lastSequence: state.lastSequence, blockedBy: null };
      await store.setKey(tx, consumer, envelope.source, envelope.subject, unblocked);
      const attempt: Attempt = { envelope, body: letter.body, parked: null, replay: true };
      const outcome = await this.#apply(tx, attempt, unblocked, now, batch);
      if ('advanced' in outcome) {
        await this.#drain(tx, envelope, outcome.advanced, now, batch);
        await finish('replayed', `applied as sequence ${envelope.sequence} of key '${envelope.subject}'`);
      } else {
        await finish(
          'replayed',
          'failed again: parked for a retry or dead-lettered anew (see the newer dead letter)',
        );
      }
      return;
    }
    if (envelope.sequence <= state.lastSequence) {
      await finish(...(await this.#replayOutOfOrder(tx, envelope, receipt, state)));
      return;
    }
    await finish(
      'open',
      `key '${envelope.subject}' is at sequence ${state.lastSequence}${state.blockedBy === null ? '' : `, blocked by ${state.blockedBy}`}; this message (sequence ${envelope.sequence}) cannot be applied now`,
    );
  }

  /** A replay of a message its key has moved past (`skip`): applied now, out of order. */
  async #replayOutOfOrder(
    tx: Transaction,
    envelope: Envelope,
    receipt: Receipt | null,
    state: KeyState,
  ): Promise<['replayed' | 'open', string]> {
    const { consumer, store } = this.#config;
    const failure = await this.#handleUnderSavepoint(tx, envelope);
    if (failure !== null && 'error' in failure) {
      const described = describeError(failure.error);
      return ['open', `the handler failed again: ${described.errorClass}: ${described.message}`];
    }
    if (receipt === null) {
      await store.recordReceipt(tx, consumer, {
        messageId: envelope.id,
        source: envelope.source,
        key: envelope.subject,
        sequence: envelope.sequence,
        outcome: 'applied',
        payloadHash: null,
      });
    } else if (samePosition(receipt, envelope)) {
      await store.setReceiptOutcome(tx, consumer, envelope.id, 'applied');
    }
    // Otherwise the id's receipt is another message's (a DUPLICATE_ID_CONFLICT): it stays that one's.
    return [
      'replayed',
      `applied out of order: key '${envelope.subject}' had moved on to sequence ${state.lastSequence}`,
    ];
  }

  async #drain(tx: Transaction, first: Envelope, state: KeyState, now: Date, batch: Batch): Promise<void> {
    const { consumer, store } = this.#config;
    let current = state;
    for (let drained = 0; drained < this.#config.maxDrain && current.blockedBy === null; drained += 1) {
      const next = await store.findParked(
        tx,
        consumer,
        first.source,
        first.subject,
        current.lastSequence + 1,
      );
      if (next === null || (next.nextAttemptAt !== null && next.nextAttemptAt > now)) return;
      const parsed = parseEnvelope(next.body);
      if (!parsed.ok) return;
      const attempt: Attempt = { envelope: parsed.envelope, body: next.body, parked: next, replay: false };
      const outcome = await this.#apply(tx, attempt, current, now, batch);
      if (!('advanced' in outcome)) return;
      current = outcome.advanced;
    }
  }

  /** A message at or below its key's position: a repeat, or another message reusing an id. */
  async #checkRepeat(tx: Transaction, envelope: Envelope, body: string, now: Date): Promise<void> {
    const receipt = await this.#config.store.findReceipt(tx, this.#config.consumer, envelope.id);
    // A receipt elsewhere: this message's reuse of the id was dealt with at its own turn.
    if (receipt === null || !samePosition(receipt, envelope) || receipt.payloadHash === null) return;
    const conflict = receiptConflict(receipt, envelope, payloadHash(envelope));
    if (conflict !== null) await this.#recordConflict(tx, envelope, body, conflict, now);
  }

  /** Parks a message that is not next in line; its id already parked is a repeat or a conflict. */
  async #park(tx: Transaction, attempt: Attempt, now: Date): Promise<void> {
    const { envelope, body } = attempt;
    const { consumer, store } = this.#config;
    if ((await store.park(tx, consumer, parkedFrom(envelope, body))) === 'parked') return;
    const twin = await store.findParked(tx, consumer, envelope.source, envelope.subject, envelope.sequence);
    const conflict =
      twin === null ? parkedElsewhere(envelope) : parkedConflict(twin, envelope, payloadHash(envelope));
    if (conflict !== null) await this.#recordConflict(tx, envelope, body, conflict, now);
  }

  async #apply(
    tx: Transaction,
    attempt: Attempt,
    state: KeyState,
    now: Date,
    batch: Batch,
  ): Promise<Outcome> {
    const { envelope } = attempt;
    const handled = this.#config.types === null || this.#config.types.has(envelope.type);
    const refusal = this.#refusal(attempt, handled);
    if (refusal !== null) return this.#giveUp(tx, attempt, state, refusal.reason, refusal, 0, now);
    if (!handled) {
      const taken = await this.#claim(tx, attempt, 'ignored');
      return taken === null
        ? this.#moveOn(tx, attempt, state, false)
        : this.#taken(tx, attempt, state, taken, now);
    }
    if (batch.optimistic) {
      const taken = await this.#claim(tx, attempt, 'applied');
      if (taken !== null) return this.#taken(tx, attempt, state, taken, now);
      try {
        await this.#runHandler(tx, envelope);
      } catch (error) {
        throw new OptimisticBatchFailed(error);
      }
      return this.#moveOn(tx, attempt, state, true);
    }
    const result = await this.#handleUnderSavepoint(tx, envelope, () => this.#claim(tx, attempt, 'applied'));
    if (result === null) return this.#moveOn(tx, attempt, state, true);
    if ('taken' in result) return this.#taken(tx, attempt, state, result.taken, now);
    return this.#failed(tx, attempt, state, result.error, now, batch);
  }

  /** What refuses a message before its handler runs, in this order; null: nothing. */
  #refusal(attempt: Attempt, handled: boolean): Refusal | null {
    const { envelope, body } = attempt;
    const { consumer, maxMessageBytes } = this.#config;
    const bytes = Buffer.byteLength(body, 'utf8');
    if (bytes > maxMessageBytes) {
      const message = `the message is ${bytes} bytes, over this consumer's limit of ${maxMessageBytes}`;
      return { reason: Reason.OVERSIZED, errorClass: 'OversizedMessage', message };
    }
    if (!handled) {
      if (!this.#config.rejectUnknownTypes) return null;
      const message = `type '${envelope.type}' is not handled by consumer '${consumer}'`;
      return { reason: Reason.UNKNOWN_TYPE, errorClass: 'UnknownType', message };
    }
    // Only where the data will be used: an ignored type's damaged data harms nobody.
    const damage = textDamage(body);
    if (damage !== undefined) {
      return { reason: Reason.MALFORMED, errorClass: 'DamagedText', message: `the body ${damage}` };
    }
    const schemaProblem = this.#config.validateData(envelope);
    return schemaProblem === null
      ? null
      : { reason: Reason.SCHEMA_INVALID, errorClass: 'SchemaInvalid', message: schemaProblem };
  }

  /**
   * Writes the message's receipt: null when it was written (or, for a replay, whatever was there),
   * else the receipt its id already has. The receipt comes first so that this one statement, which
   * every applied message needs anyway, also finds a reused id.
   */
  async #claim(tx: Transaction, attempt: Attempt, outcome: ReceiptOutcome): Promise<Receipt | null> {
    const { envelope } = attempt;
    const { consumer, store } = this.#config;
    const written = await store.recordReceipt(tx, consumer, {
      messageId: envelope.id,
      source: envelope.source,
      key: envelope.subject,
      sequence: envelope.sequence,
      outcome,
      payloadHash: attempt.replay ? null : payloadHash(envelope),
    });
    if (written === 'recorded' || attempt.replay) return null;
    return store.findReceipt(tx, consumer, envelope.id);
  }

  /** The message's id already has `receipt`: the same message handled before, or a conflict. */
  async #taken(
    tx: Transaction,
    attempt: Attempt,
    state: KeyState,
    receipt: Receipt,
    now: Date,
  ): Promise<Outcome> {
    const conflict = receiptConflict(receipt, attempt.envelope, payloadHash(attempt.envelope));
    // The same message, handled before its key's state was (a restored key): catch the key up.
    if (conflict === null) return this.#moveOn(tx, attempt, state, false);
    const error = { errorClass: 'DuplicateIdConflict', message: conflict };
    return this.#giveUp(tx, attempt, state, Reason.DUPLICATE_ID_CONFLICT, error, 0, now);
  }

  /** The handler failed (careful mode): give up, or park the message for a retry. */
  async #failed(
    tx: Transaction,
    attempt: Attempt,
    state: KeyState,
    error: unknown,
    now: Date,
    batch: Batch,
  ): Promise<Outcome> {
    const { envelope, body } = attempt;
    const { consumer, store } = this.#config;
    batch.handlerFailures += 1;
    const attempts = (attempt.parked?.attempts ?? 0) + 1;
    const described = describeError(error);
    if (isTerminalError(error)) {
      return this.#giveUp(tx, attempt, state, Reason.HANDLER_TERMINAL_ERROR, described, attempts, now);
    }
    if (attempts >= this.#config.retry.maxAttempts) {
      const reason = isHandlerTimeout(error) ? Reason.HANDLER_TIMEOUT : Reason.HANDLER_RETRIES_EXHAUSTED;
      return this.#giveUp(tx, attempt, state, reason, described, attempts, now);
    }
    const hinted = isRetryableError(error) ? error.retryAfterMs : undefined;
    const delayMs = hinted ?? backoffDelayMs(this.#config.retry, attempts);
    const update = {
      attempts,
      nextAttemptAt: new Date(now.getTime() + delayMs),
      lastError: `${described.errorClass}: ${described.message}`,
      firstFailedAt: attempt.parked?.firstFailedAt ?? now,
    };
    if (attempt.parked === null) await store.park(tx, consumer, { ...parkedFrom(envelope, body), ...update });
    else await store.updateParked(tx, consumer, envelope.id, update);
    batch.anyParked = true;
    return { waiting: true };
  }

  /** One call of the handler, with its time limit and a fenced transaction handle. */
  #runHandler(tx: Transaction, envelope: Envelope): Promise<void> {
    const { consumer, handler, handlerTimeoutMs } = this.#config;
    return runHandlerAttempt(handler, tx, { consumer, envelope, timeoutMs: handlerTimeoutMs });
  }

  /**
   * Runs `claim` (when given) and then the handler under a savepoint. Returns null on success; the
   * existing receipt when `claim` found one (the handler did not run); or the handler's error, its
   * writes and the receipt undone.
   */
  async #handleUnderSavepoint(
    tx: Transaction,
    envelope: Envelope,
    claim?: () => Promise<Receipt | null>,
  ): Promise<{ readonly error: unknown } | { readonly taken: Receipt } | null> {
    await tx.execute(`SAVEPOINT ${SAVEPOINT}`);
    const taken = claim === undefined ? null : await claim();
    if (taken !== null) {
      await tx.execute(`RELEASE SAVEPOINT ${SAVEPOINT}`);
      return { taken };
    }
    try {
      await this.#runHandler(tx, envelope);
      await tx.execute(`RELEASE SAVEPOINT ${SAVEPOINT}`);
      return null;
    } catch (error) {
      await tx.execute(`ROLLBACK TO SAVEPOINT ${SAVEPOINT}`);
      await tx.execute(`RELEASE SAVEPOINT ${SAVEPOINT}`);
      return { error };
    }
  }

  /** Advances the key past the message (its receipt is written), and forgets it if it was parked. */
  async #moveOn(tx: Transaction, attempt: Attempt, state: KeyState, applied: boolean): Promise<Outcome> {
    const { envelope } = attempt;
    const { consumer, store } = this.#config;
    if (applied) this.#applied += 1;
    const advanced = { lastSequence: envelope.sequence, blockedBy: state.blockedBy };
    await store.setKey(tx, consumer, envelope.source, envelope.subject, advanced);
    if (attempt.parked !== null) await store.deleteParked(tx, consumer, envelope.id);
    return { advanced };
  }

  async #giveUp(
    tx: Transaction,
    attempt: Attempt,
    state: KeyState,
    reason: DeadLetterReason,
    error: { errorClass: string; message: string },
    attempts: number,
    now: Date,
  ): Promise<Outcome> {
    const { envelope, body } = attempt;
    const { consumer, store, poisonPolicy } = this.#config;
    const firstFailedAt = attempt.parked?.firstFailedAt ?? now;
    const failure = { reason, ...error, attempts, policy: poisonPolicy, firstFailedAt };
    await this.#addDeadLetter(tx, keyedFailure(envelope, body, failure, now));
    if (poisonPolicy === 'skip') {
      // Writes nothing when the id has a receipt already (a DUPLICATE_ID_CONFLICT): that one stays.
      await this.#claim(tx, attempt, 'dead-lettered');
      return this.#moveOn(tx, attempt, state, false);
    }
    await store.setKey(tx, consumer, envelope.source, envelope.subject, {
      lastSequence: state.lastSequence,
      blockedBy: envelope.id,
    });
    if (attempt.parked !== null) await store.deleteParked(tx, consumer, envelope.id);
    return { waiting: true };
  }

  /** A message that reused an id, found away from its key's turn: dead-lettered, the key untouched. */
  async #recordConflict(tx: Transaction, envelope: Envelope, body: string, detail: string, now: Date) {
    const conflict = {
      reason: Reason.DUPLICATE_ID_CONFLICT,
      errorClass: 'DuplicateIdConflict',
      message: detail,
      attempts: 0,
      policy: 'skip' as const,
      firstFailedAt: now,
    };
    await this.#addDeadLetter(tx, keyedFailure(envelope, body, conflict, now));
  }

  #addDeadLetter(tx: Transaction, failure: DeadLetterFailure): Promise<void> {
    const { consumer, maxDeadLetterBodyBytes, store } = this.#config;
    return store.addDeadLetter(tx, completeDeadLetter(failure, consumer, maxDeadLetterBodyBytes));
  }
}

function parkedFrom(envelope: Envelope, body: string): ParkedMessage {
  return {
    messageId: envelope.id,
    source: envelope.source,
    key: envelope.subject,
    sequence: envelope.sequence,
    type: envelope.type,
    body,
    attempts: 0,
    nextAttemptAt: null,
    lastError: null,
    firstFailedAt: null,
  };
}
