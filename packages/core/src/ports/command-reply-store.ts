/**
 * Where an orchestrating service keeps the replies to the commands its sagas sent (the second kind
 * of participant call: a command message over the transport, answered by a reply message).
 *
 * A reply arrives through the orchestrator's own inbox and is recorded **in the inbox's
 * transaction**, in the orchestrator's database, so it survives the instance that sent the
 * command: after a takeover, the instance that retries the step finds the earlier attempt's final
 * answer by the step's idempotency key instead of sending the command again.
 *
 * Invariant: one row per command (`requestId`, the command's message id); a second reply to the
 * same command (a redelivered reply) is ignored, never overwrites the first.
 */
import type { Transaction } from './storage.js';

/** How a participant answered a command. `failed` says "try again"; the other two are final. */
export type CommandReplyOutcome = 'ok' | 'rejected' | 'failed';

/** One recorded reply. */
export interface RecordedCommandReply {
  /** The command's message id (the reply's `causationid`). */
  readonly requestId: string;
  /** The command's idempotency key (`<sagaId>:<step>`, or `…:compensate`). */
  readonly idempotencyKey: string;
  readonly outcome: CommandReplyOutcome;
  /** The reply as JSON (a `CommandReply`). */
  readonly reply: unknown;
  readonly receivedAt: Date;
}

export interface CommandReplyStore {
  /**
   * Records a reply inside `tx` (the reply consumer's inbox transaction). Returns false, writing
   * nothing, when a reply to that command is already recorded.
   */
  record(tx: Transaction, reply: RecordedCommandReply): Promise<boolean>;
  /** The replies recorded for these commands (any order; commands without a reply are absent). */
  forRequests(requestIds: readonly string[]): Promise<RecordedCommandReply[]>;
  /**
   * The most recently received final reply (`ok` or `rejected`) to any command sent with this
   * idempotency key, or undefined: an earlier attempt's answer, reused after a takeover.
   */
  finalFor(idempotencyKey: string): Promise<RecordedCommandReply | undefined>;
  /** Deletes replies received before `before`, at most `limit` rows; returns how many. */
  prune(before: Date, limit: number): Promise<number>;
}
