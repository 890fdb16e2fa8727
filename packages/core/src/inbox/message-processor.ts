/**
 * What the inbox does with one received message, inside the consumer's transaction.
 *
 * A message of key K (per source) with sequence s, while the consumer's key state says the last
 * handled sequence is `last`:
 * - s ≤ last, or it is the very dead letter that blocks K: a duplicate; acknowledged, no effect.
 * - K is blocked by a dead letter, or s > last + 1: *parked* — it waits in the inbox for its
 *   predecessor (or for the dead letter to be replayed); the transport is acknowledged.
 * - s = last + 1: *applied*. A type the subscription does not handle is acknowledged without
 *   effect and still advances K (so nobody waits forever for a number it ignores). Otherwise the
 *   handler runs; on success the receipt and the new key state are written in the same
 *   transaction as the handler's effect. Then the parked successors of K that are due are applied
 *   in turn ("drained").
 * - The handler failed: a `TerminalError`, an oversized body or exhausted retries go to the dead
 *   letters; then the poison policy decides: `block-key` keeps K's later messages parked behind
 *   the dead letter (order preserved), `skip` advances K past it. Any other error parks the
 *   message with its attempt count and the time of its next attempt (exponential backoff, equal
 *   jitter); the retry loop picks it up when due.
 * - An envelope too malformed to carry a key is dead-lettered with the `skip` policy.
 *
 * Batches run in one of two modes (see `Batch`). *Optimistic*: handlers run without a savepoint,
 * and a handler failure aborts the whole batch (`OptimisticBatchFailed`), which the inbox then
 * runs again *carefully*: each handler under a savepoint, so a failure rolls back only that
 * handler's writes and the rules above apply. Most batches have no failure, and skip two
 * statements per message. Nothing is applied twice either way: the batch's transaction commits
 * only once, with everything it applied.
 */

import { capPayload, failureFingerprint, headersOf } from '../core/dead-letter-record.js';
import { type Envelope, parseEnvelope } from '../core/envelope.js';
import { describeError, isRetryableError, isTerminalError } from '../core/errors.js';
import { backoffDelayMs, type RetryPolicy } from '../core/retry-policy.js';
import {
  type DeadLetter,
  type DeadLetterReason,
  type InboxStore,
  type KeyState,
  type ParkedMessage,
  type PoisonPolicy,
  DeadLetterReason as Reason,
  type StoredDeadLetter,
} from '../ports/inbox-store.js';
import type { Transaction } from '../ports/storage.js';
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
}

interface Attempt {
  readonly envelope: Envelope;
  readonly body: string;
  readonly parked: ParkedMessage | null;
}

type Outcome = { readonly advanced: KeyState } | { readonly waiting: true };

/** What the processor knows of a failure; `#deadLetter` completes it into a `DeadLetter`. */
type DeadLetterFailure = Omit<
  DeadLetter,
  'consumer' | 'fingerprint' | 'destination' | 'headers' | 'bodySha256' | 'bodyBytes' | 'bodyTruncated'
>;

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
      await this.#deadLetterUnkeyed(tx, body, problem.reason, problem.detail, now);
      return;
    }
    const envelope = parsed.envelope;
    if (this.#config.sources !== null && !this.#config.sources.has(envelope.source)) return;
    const { consumer, store } = this.#config;
    const state = await store.lockKey(tx, consumer, envelope.source, envelope.subject);
    if (envelope.sequence <= state.lastSequence || state.blockedBy === envelope.id) return;
    if (state.blockedBy !== null || envelope.sequence > state.lastSequence + 1) {
      await store.park(tx, consumer, parkedFrom(envelope, body));
      batch.anyParked = true;
      return;
    }
    // Already waiting for a retry (a redelivery of a message that failed): the retry loop owns it.
    if (
      batch.anyParked &&
      (await store.findParked(tx, consumer, envelope.source, envelope.subject, envelope.sequence)) !== null
    )
      return;
    const outcome = await this.#apply(tx, { envelope, body, parked: null }, state, now, batch);
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
    const outcome = await this.#apply(
      tx,
      { envelope: parsed.envelope, body: parked.body, parked },
      state,
      now,
      batch,
    );
    if ('advanced' in outcome) await this.#drain(tx, parsed.envelope, outcome.advanced, now, batch);
  }

  /**
   * Replays a dead letter an operator asked for (status `replaying`), through the same inbox:
   * - already applied (receipt `applied`): nothing happens a second time;
   * - the dead letter blocks its key (`block-key`): the key is unblocked and the message applied
   *   in its place, then the successors that waited behind it, in order; if it fails again it is
   *   parked for a retry or becomes a new dead letter, as any message would;
   * - its key moved on (`skip`): the handler runs now, out of order, as the operator decided, and
   *   the key's position stays where it is;
   * - anything else (the key is not where the dead letter left it): back to `open`, with the reason.
   * Every outcome is added to the dead letter's audit trail.
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
    if ((await store.receiptOutcome(tx, consumer, envelope.id)) === 'applied') {
      await finish('replayed', 'already applied; nothing was applied a second time');
      return;
    }
    const batch: Batch = { anyParked: true, optimistic: false, handlerFailures: 0 };
    if (state.blockedBy === envelope.id) {
      const unblocked = { lastSequence: state.lastSequence, blockedBy: null };
      await store.setKey(tx, consumer, envelope.source, envelope.subject, unblocked);
      const outcome = await this.#apply(
        tx,
        { envelope, body: letter.body, parked: null },
        unblocked,
        now,
        batch,
      );
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
      const failure = await this.#handleUnderSavepoint(tx, envelope);
      if (failure !== null) {
        const described = describeError(failure.error);
        await finish('open', `the handler failed again: ${described.errorClass}: ${described.message}`);
        return;
      }
      if ((await store.receiptOutcome(tx, consumer, envelope.id)) === null) {
        await store.recordReceipt(tx, consumer, {
          messageId: envelope.id,
          source: envelope.source,
          key: envelope.subject,
          sequence: envelope.sequence,
          outcome: 'applied',
        });
      } else await store.setReceiptOutcome(tx, consumer, envelope.id, 'applied');
      await finish(
        'replayed',
        `applied out of order: key '${envelope.subject}' had moved on to sequence ${state.lastSequence}`,
      );
      return;
    }
    await finish(
      'open',
      `key '${envelope.subject}' is at sequence ${state.lastSequence}${state.blockedBy === null ? '' : `, blocked by ${state.blockedBy}`}; this message (sequence ${envelope.sequence}) cannot be applied now`,
    );
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
      const outcome = await this.#apply(
        tx,
        { envelope: parsed.envelope, body: next.body, parked: next },
        current,
        now,
        batch,
      );
      if (!('advanced' in outcome)) return;
      current = outcome.advanced;
    }
  }

  async #apply(
    tx: Transaction,
    attempt: Attempt,
    state: KeyState,
    now: Date,
    batch: Batch,
  ): Promise<Outcome> {
    const { envelope, body } = attempt;
    const { consumer, store } = this.#config;
    if (Buffer.byteLength(body, 'utf8') > this.#config.maxMessageBytes) {
      const detail = `the message is ${Buffer.byteLength(body, 'utf8')} bytes, over this consumer's limit of ${this.#config.maxMessageBytes}`;
      return this.#giveUp(
        tx,
        attempt,
        state,
        Reason.OVERSIZED,
        { errorClass: 'OversizedMessage', message: detail },
        0,
        now,
      );
    }
    const handled = this.#config.types === null || this.#config.types.has(envelope.type);
    if (!handled && this.#config.rejectUnknownTypes) {
      const detail = `type '${envelope.type}' is not handled by consumer '${consumer}'`;
      return this.#giveUp(
        tx,
        attempt,
        state,
        Reason.UNKNOWN_TYPE,
        { errorClass: 'UnknownType', message: detail },
        0,
        now,
      );
    }
    if (!handled) return this.#advance(tx, attempt, state, 'ignored');
    const schemaProblem = this.#config.validateData(envelope);
    if (schemaProblem !== null) {
      return this.#giveUp(
        tx,
        attempt,
        state,
        Reason.SCHEMA_INVALID,
        { errorClass: 'SchemaInvalid', message: schemaProblem },
        0,
        now,
      );
    }

    if (batch.optimistic) {
      try {
        await this.#config.handler(envelope, tx);
      } catch (error) {
        throw new OptimisticBatchFailed(error);
      }
      return this.#advance(tx, attempt, state, 'applied');
    }
    const failure = await this.#handleUnderSavepoint(tx, envelope);
    if (failure !== null) {
      const { error } = failure;
      batch.handlerFailures += 1;
      const attempts = (attempt.parked?.attempts ?? 0) + 1;
      const described = describeError(error);
      if (isTerminalError(error)) {
        return this.#giveUp(tx, attempt, state, Reason.HANDLER_TERMINAL_ERROR, described, attempts, now);
      }
      if (attempts >= this.#config.retry.maxAttempts) {
        return this.#giveUp(tx, attempt, state, Reason.HANDLER_RETRIES_EXHAUSTED, described, attempts, now);
      }
      const hinted = isRetryableError(error) ? error.retryAfterMs : undefined;
      const delayMs = hinted ?? backoffDelayMs(this.#config.retry, attempts);
      const update = {
        attempts,
        nextAttemptAt: new Date(now.getTime() + delayMs),
        lastError: `${described.errorClass}: ${described.message}`,
        firstFailedAt: attempt.parked?.firstFailedAt ?? now,
      };
      if (attempt.parked === null)
        await store.park(tx, consumer, { ...parkedFrom(envelope, body), ...update });
      else await store.updateParked(tx, consumer, envelope.id, update);
      batch.anyParked = true;
      return { waiting: true };
    }
    return this.#advance(tx, attempt, state, 'applied');
  }

  /** Runs the handler under a savepoint; on failure its writes are undone and the error returned. */
  async #handleUnderSavepoint(tx: Transaction, envelope: Envelope): Promise<{ error: unknown } | null> {
    await tx.execute(`SAVEPOINT ${SAVEPOINT}`);
    try {
      await this.#config.handler(envelope, tx);
      await tx.execute(`RELEASE SAVEPOINT ${SAVEPOINT}`);
      return null;
    } catch (error) {
      await tx.execute(`ROLLBACK TO SAVEPOINT ${SAVEPOINT}`);
      await tx.execute(`RELEASE SAVEPOINT ${SAVEPOINT}`);
      return { error };
    }
  }

  async #advance(
    tx: Transaction,
    attempt: Attempt,
    state: KeyState,
    outcome: 'applied' | 'ignored' | 'dead-lettered',
  ): Promise<Outcome> {
    const { envelope } = attempt;
    const { consumer, store } = this.#config;
    await store.recordReceipt(tx, consumer, {
      messageId: envelope.id,
      source: envelope.source,
      key: envelope.subject,
      sequence: envelope.sequence,
      outcome,
    });
    if (outcome === 'applied') this.#applied += 1;
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
    await store.addDeadLetter(
      tx,
      this.#deadLetter({
        messageId: envelope.id,
        source: envelope.source,
        type: envelope.type,
        key: envelope.subject,
        sequence: envelope.sequence,
        reason,
        errorClass: error.errorClass,
        errorMessage: error.message,
        attempts,
        policy: poisonPolicy,
        body,
        firstFailedAt: attempt.parked?.firstFailedAt ?? now,
        lastFailedAt: now,
      }),
    );
    if (poisonPolicy === 'skip') return this.#advance(tx, attempt, state, 'dead-lettered');
    await store.setKey(tx, consumer, envelope.source, envelope.subject, {
      lastSequence: state.lastSequence,
      blockedBy: envelope.id,
    });
    if (attempt.parked !== null) await store.deleteParked(tx, consumer, envelope.id);
    return { waiting: true };
  }

  /** Completes a dead letter: fingerprint, headers, capped payload, destination. */
  #deadLetter(failure: DeadLetterFailure): DeadLetter {
    const payload = capPayload(failure.body, this.#config.maxDeadLetterBodyBytes);
    return {
      ...failure,
      consumer: this.#config.consumer,
      fingerprint: failureFingerprint(failure.reason, failure.errorClass, failure.errorMessage),
      destination: this.#config.consumer,
      headers: headersOf(failure.body),
      body: payload.body,
      bodySha256: payload.sha256,
      bodyBytes: payload.bytes,
      bodyTruncated: payload.truncated,
    };
  }

  async #deadLetterUnkeyed(
    tx: Transaction,
    body: string,
    reason: DeadLetterReason,
    detail: string,
    now: Date,
  ): Promise<void> {
    let messageId: string | null = null;
    try {
      const value = JSON.parse(body) as { id?: unknown };
      if (typeof value?.id === 'string') messageId = value.id;
    } catch {
      // Not JSON: nothing more to learn from it.
    }
    await this.#config.store.addDeadLetter(
      tx,
      this.#deadLetter({
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
      }),
    );
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
