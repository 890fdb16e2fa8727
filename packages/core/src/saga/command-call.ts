/**
 * `commandCall`: the second kind of participant call — a command message over the transport,
 * answered by a reply message (the first is `httpCall`). The step sends the command through a
 * `CommandRequester` (a `CommandChannel`, see command-channel.ts) and maps the reply the way
 * `httpCall` maps an HTTP answer:
 *
 * - `ok` → the step's output is the reply's data;
 * - `rejected` (the participant refused: a final answer) → `TerminalError` `COMMAND_REJECTED`,
 *   no retries, the saga compensates;
 * - `failed` (the participant could not apply it now) → `RetryableError` `COMMAND_FAILED`,
 *   after `retryAfterMs` when the participant gave one;
 * - no reply before the attempt's timeout → the attempt timed out (an unknown outcome: the step
 *   is retried, and compensated if it never gets an answer — ADR 0020).
 *
 * The command carries the step's idempotency key as its `idempotencykey` attribute (the same on
 * every attempt and after a takeover), so the participant's `commandHandler` applies it once
 * however often it is sent, and answers a repeat with the stored reply.
 */
import { RetryableError, TerminalError } from '../core/errors.js';
import { type FromContext, fromContext } from './from-context.js';
import type { StepContext, StepOutputs } from './saga-definition.js';

/** The command a step sends. */
export interface CommandRequest {
  /** The message type, e.g. `billing.charge`. */
  readonly type: string;
  /** The message key (per-key order at the participant), e.g. the customer id. */
  readonly key: string;
  readonly data: unknown;
  /** The context's idempotency key, sent as the `idempotencykey` attribute. */
  readonly idempotencyKey: string;
  /** The saga's id, sent as the `correlationid` attribute (the participant's reply carries it back). */
  readonly sagaId?: string;
}

/** The participant's reply (the `data` of the reply message). */
export type CommandReply =
  | { readonly outcome: 'ok'; readonly data: unknown }
  | { readonly outcome: 'rejected'; readonly code: string; readonly message: string }
  | { readonly outcome: 'failed'; readonly message: string; readonly retryAfterMs?: number };

/** Sends a command and waits for its reply; rejects when `signal` aborts first. */
export interface CommandRequester {
  request(command: CommandRequest, signal: AbortSignal): Promise<CommandReply>;
}

/** What a command step sends, from its context. */
export interface CommandCallOptions<Input = unknown, Outputs extends object = StepOutputs> {
  /** The command's message type, e.g. `billing.charge`. */
  readonly type: FromContext<string, Input, Outputs>;
  /** The message key: the participant applies one key's commands in order. */
  readonly key: FromContext<string, Input, Outputs>;
  /** The command's data (JSON); null when omitted. */
  readonly data?: (context: StepContext<Input, Outputs>) => unknown;
}

/**
 * Builds a step action (or compensation) that sends one command per attempt and waits for its
 * reply within the attempt's timeout.
 *
 * @example
 * const channel = createCommandChannel({ storage, outbox, inbox, replyTo: 'orders.saga.reply' });
 * .step('billing', {
 *   action: commandCall(channel, { type: 'billing.charge', key: (c) => c.input.customerId, data: (c) => c.input }),
 *   compensate: commandCall(channel, { type: 'billing.refund', key: (c) => c.input.customerId }),
 * })
 */
export function commandCall<Input = unknown, Outputs extends object = StepOutputs>(
  requester: CommandRequester,
  options: CommandCallOptions<Input, Outputs>,
): (context: StepContext<Input, Outputs>) => Promise<unknown> {
  return async (context) => {
    const type = fromContext(options.type, context);
    const key = fromContext(options.key, context);
    const what = `Command '${type}' (key '${key}', idempotency key ${context.idempotencyKey}, attempt ${context.attempt})`;
    const command: CommandRequest = {
      type,
      key,
      data: jsonData(options.data === undefined ? null : options.data(context), what),
      idempotencyKey: context.idempotencyKey,
      sagaId: context.sagaId,
    };
    const reply = await requester.request(command, context.signal);
    return outputOf(reply, what);
  };
}

/**
 * The data as JSON carries it, the way `httpCall` sends a body: `undefined` properties are left
 * out. What JSON cannot carry at all is the step's mistake, not the participant's: no retry helps.
 */
function jsonData(data: unknown, what: string): unknown {
  try {
    return JSON.parse(JSON.stringify(data) ?? 'null') as unknown;
  } catch (error) {
    throw new TerminalError(
      `${what}: its data cannot be sent as JSON (${error instanceof Error ? error.message : String(error)}); return plain data from the step's 'data' function.`,
      { code: 'COMMAND_DATA_INVALID', cause: error },
    );
  }
}

/** The step's output for a reply, or the error the state machine classifies. */
export function outputOf(reply: CommandReply, what: string): unknown {
  switch (reply.outcome) {
    case 'ok':
      return reply.data;
    case 'rejected':
      throw new TerminalError(
        `${what} was rejected by the participant (${reply.code}: ${reply.message}); the step fails without retries.`,
        { code: 'COMMAND_REJECTED', details: { participantCode: reply.code } },
      );
    case 'failed': {
      const when = reply.retryAfterMs === undefined ? "per the step's policy" : `in ${reply.retryAfterMs} ms`;
      throw new RetryableError(`${what} failed at the participant (${reply.message}); retrying ${when}.`, {
        code: 'COMMAND_FAILED',
        ...(reply.retryAfterMs === undefined ? {} : { retryAfterMs: reply.retryAfterMs }),
      });
    }
  }
}

/**
 * Reads a reply message's data defensively (it crossed the wire): a `CommandReply`, or a
 * description of what is wrong with it.
 */
export function parseCommandReply(data: unknown): CommandReply | string {
  if (typeof data !== 'object' || data === null || Array.isArray(data))
    return 'the reply data is not an object';
  const reply = data as Record<string, unknown>;
  switch (reply.outcome) {
    case 'ok':
      return { outcome: 'ok', data: reply.data ?? null };
    case 'rejected':
      if (typeof reply.code !== 'string' || typeof reply.message !== 'string')
        return "a 'rejected' reply needs a string 'code' and 'message'";
      return { outcome: 'rejected', code: reply.code, message: reply.message };
    case 'failed': {
      if (typeof reply.message !== 'string') return "a 'failed' reply needs a string 'message'";
      const after = reply.retryAfterMs;
      if (after !== undefined && (typeof after !== 'number' || !Number.isFinite(after) || after < 0))
        return "a 'failed' reply's 'retryAfterMs' must be a number of milliseconds ≥ 0";
      return {
        outcome: 'failed',
        message: reply.message,
        ...(after === undefined ? {} : { retryAfterMs: after as number }),
      };
    }
    default:
      return `'outcome' must be 'ok', 'rejected' or 'failed' (got ${JSON.stringify(reply.outcome)})`;
  }
}
