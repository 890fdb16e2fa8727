/**
 * The second kind of participant call: a command message over the transport, answered by a reply
 * message. NOT YET PROVIDED — only the shape is fixed here, for the orchestrator to implement
 * (correlating replies needs a reply subscription the orchestrator owns). Until then, use
 * `httpCall`, or write an action that sends the command itself.
 *
 * The contract an implementation must keep: the command carries the context's idempotency key
 * as the message attribute `idempotency-key` (so the participant's inbox applies it once), the
 * wait ends with `signal`, and the reply is mapped like an HTTP answer — `ok` to the output,
 * `rejected` to a `TerminalError`, `failed` to a `RetryableError` (with `retryAfterMs`).
 */
import type { StepContext, StepOutputs } from './saga-definition.js';

/** The command a step sends. */
export interface CommandRequest {
  /** The message type, e.g. `billing.charge`. */
  readonly type: string;
  /** The message key (per-key order at the participant), e.g. the customer id. */
  readonly key: string;
  readonly data: unknown;
  /** The context's idempotency key, sent as the `idempotency-key` attribute. */
  readonly idempotencyKey: string;
}

/** The participant's reply. */
export type CommandReply =
  | { readonly outcome: 'ok'; readonly data: unknown }
  | { readonly outcome: 'rejected'; readonly code: string; readonly message: string }
  | { readonly outcome: 'failed'; readonly message: string; readonly retryAfterMs?: number };

/** Sends a command and waits for its reply (to be implemented by the orchestrator over a transport). */
export interface CommandRequester {
  request(command: CommandRequest, signal: AbortSignal): Promise<CommandReply>;
}

/** What a command step sends, from its context (the shape a future `commandCall(requester, options)` takes). */
export interface CommandCallOptions<Input = unknown, Outputs extends object = StepOutputs> {
  readonly type: string;
  readonly key: (context: StepContext<Input, Outputs>) => string;
  readonly data: (context: StepContext<Input, Outputs>) => unknown;
}
