/**
 * The participant side of a saga's command messages: an inbox handler that applies a command once
 * per idempotency key and answers with a reply message through the participant's own outbox.
 *
 * One delivery, inside the inbox's transaction (so the receipt, the effect, the stored reply and
 * the reply message commit together, or none of them):
 *   1. a command with an `idempotencykey` reserves it (`storage.idempotency.begin`) under a
 *      savepoint — or finds the reply an earlier attempt stored (sent again, nothing applied), or
 *      finds the key taken by another command (`rejected` `IDEMPOTENCY_KEY_REUSED`, nothing
 *      applied);
 *   2. `handle` runs under a second savepoint, so its writes can be undone while the inbox's
 *      transaction goes on (on PostgreSQL this also clears a failed statement's abort);
 *   3. its outcome becomes the reply: it returned → `ok` with the data; it threw a `TerminalError`
 *      → `rejected` with the error's code and message, its writes undone; it threw anything else →
 *      `failed`, its writes undone, and the key's reservation too;
 *   4. a final reply (`ok`, `rejected`) is stored with the key (`complete`); a `failed` one is not,
 *      so the next attempt runs `handle` again;
 *   5. when the command names `replyto`, the reply is appended to the outbox as a message of that
 *      type, caused by the command and carrying its correlation id and idempotency key.
 *
 * A retried attempt is a new message (a new id), so the inbox's receipt does not recognise it; the
 * idempotency key does. A redelivery of the same message is caught by the receipt before this runs.
 *
 * The stored response is HTTP-shaped (`StoredResponse`, shared with the HTTP helpers): `ok` is
 * status 200, `rejected` 422, the body the `CommandReply` as JSON.
 */
import { type Envelope, hostileStructure, type MessageDraft } from '../core/envelope.js';
import {
  ConvergeError,
  describeError,
  isConvergeError,
  isRetryableError,
  isTerminalError,
  TerminalError,
} from '../core/errors.js';
import type { MessageHandler } from '../inbox/message-processor.js';
import type { Outbox } from '../outbox/outbox.js';
import type { StoredResponse } from '../ports/idempotency-store.js';
import { type Logger, silentLogger } from '../ports/logger.js';
import type { Storage, Transaction } from '../ports/storage.js';
import { type CommandReply, parseCommandReply } from '../saga/command-call.js';
import { requestHash } from './request-hash.js';

export interface CommandHandlerOptions {
  /** The participant's own database: the idempotency keys and their replies live there. */
  readonly storage: Storage;
  /** The participant's outbox: replies are appended to it in the inbox's transaction. */
  readonly outbox: Outbox;
  /** Separates these keys from other endpoints' in the same database. Default `'command'`. */
  readonly scope?: string;
  /** Where a failing `handle` and a reused key are logged. Default: silent. */
  readonly logger?: Logger;
  /** When a key is recorded (for retention). Default: now. */
  readonly now?: () => Date;
}

/** Applies a command's effect through `tx` and returns the reply's data (a JSON value). */
export type CommandEffect<TData = unknown> = (message: Envelope<TData>, tx: Transaction) => Promise<unknown>;

/** Status of a stored `ok` reply. */
export const COMMAND_OK_STATUS = 200;
/** Status of a stored `rejected` reply. */
export const COMMAND_REJECTED_STATUS = 422;

const KEY_SAVEPOINT = 'converge_command';
const EFFECT_SAVEPOINT = 'converge_command_effect';

/**
 * Wraps `handle` as an inbox handler for commands sent by a saga step (`commandCall`): each
 * idempotency key is applied at most once, and every delivery is answered on the command's
 * `replyto` type — with the stored reply when the key was answered before. A command without an
 * `idempotencykey` runs unrecorded (the inbox's receipt still ignores a redelivered message); one
 * without `replyto` is applied and answered with nothing.
 *
 * `handle` signals a final refusal by throwing a `TerminalError` (reply `rejected` with its code,
 * stored); any other error is a `failed` reply (with `retryAfterMs` from a `RetryableError`), not
 * stored. A return value JSON cannot carry is a `rejected` `COMMAND_REPLY_INVALID`.
 *
 * @throws (to the inbox, which retries the delivery and then dead-letters it) the storage's errors,
 *   `TerminalError` `COMMAND_REPLY_INVALID` when the reply cannot be sent as a message (over the
 *   outbox's `maxMessageBytes`), `ConvergeError` `COMMAND_REPLY_UNREADABLE` for a stored reply that
 *   is not a command reply (another endpoint shares the scope).
 * @example
 * await inbox.subscribe({ consumer: 'billing', types: ['billing.charge'] },
 *   commandHandler({ storage, outbox }, async (message, tx) => {
 *     const { customer, cents } = message.data as { customer: string; cents: number };
 *     if (cents <= 0) throw new TerminalError('nothing to charge', { code: 'AMOUNT_INVALID' });
 *     await tx.execute('INSERT INTO charge (customer, cents) VALUES ($1, $2)', [customer, cents]);
 *     return { charged: cents };
 *   }),
 * );
 */
export function commandHandler<TData = unknown>(
  options: CommandHandlerOptions,
  handle: CommandEffect<TData>,
): MessageHandler<TData> {
  const config = Object.freeze({
    storage: options.storage,
    outbox: options.outbox,
    scope: options.scope ?? 'command',
    logger: options.logger ?? silentLogger,
    now: options.now ?? (() => new Date()),
  });
  return async (message, tx) => {
    const key = message.idempotencykey;
    const reply =
      key === undefined ? await attempt(config.logger, handle, message, tx) : await once(message, tx, key);
    await sendReply(config.outbox, tx, message, reply);
  };

  async function once(message: Envelope<TData>, tx: Transaction, key: string): Promise<CommandReply> {
    const { storage, scope } = config;
    await tx.execute(`SAVEPOINT ${KEY_SAVEPOINT}`);
    const hash = requestHash('COMMAND', message.type, JSON.stringify(message.data));
    const begun = await storage.idempotency.begin(tx, scope, key, hash, config.now());
    if (begun.kind !== 'new') {
      await tx.execute(`RELEASE SAVEPOINT ${KEY_SAVEPOINT}`);
      if (begun.kind === 'replay') return storedReply(begun.response, scope, key);
      config.logger.warn(
        { scope, idempotencyKey: key, messageId: message.id, type: message.type },
        'command refused: its idempotency key was first used by another command',
      );
      return keyReused(message, key);
    }
    const reply = await attempt(config.logger, handle, message, tx);
    if (reply.outcome === 'failed') {
      // Give the key back with the effect: the next attempt must run `handle` again.
      await tx.execute(`ROLLBACK TO SAVEPOINT ${KEY_SAVEPOINT}`);
    } else {
      await storage.idempotency.complete(tx, scope, key, toStoredResponse(reply));
    }
    await tx.execute(`RELEASE SAVEPOINT ${KEY_SAVEPOINT}`);
    return reply;
  }
}

/** Runs `handle` under a savepoint and turns its outcome into a reply (its writes undone unless `ok`). */
async function attempt<TData>(
  logger: Logger,
  handle: CommandEffect<TData>,
  message: Envelope<TData>,
  tx: Transaction,
): Promise<CommandReply> {
  await tx.execute(`SAVEPOINT ${EFFECT_SAVEPOINT}`);
  try {
    const data = jsonCopy(await handle(message, tx), message);
    await tx.execute(`RELEASE SAVEPOINT ${EFFECT_SAVEPOINT}`);
    return { outcome: 'ok', data };
  } catch (error) {
    await tx.execute(`ROLLBACK TO SAVEPOINT ${EFFECT_SAVEPOINT}`);
    await tx.execute(`RELEASE SAVEPOINT ${EFFECT_SAVEPOINT}`);
    if (isTerminalError(error)) return { outcome: 'rejected', code: error.code, message: error.message };
    const described = describeError(error);
    logger.warn(
      { err: error, messageId: message.id, type: message.type, idempotencyKey: message.idempotencykey },
      'command failed; its writes were rolled back and it is answered as failed',
    );
    const retryAfterMs = isRetryableError(error) ? error.retryAfterMs : undefined;
    return {
      outcome: 'failed',
      message: isConvergeError(error) ? described.message : `${described.errorClass}: ${described.message}`,
      ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
    };
  }
}

/**
 * The handler's result as JSON (`undefined` becomes null), or a `TerminalError` when no message
 * could carry it: a value JSON cannot represent, or a structure every consumer refuses.
 */
function jsonCopy(value: unknown, message: Envelope): unknown {
  let copy: unknown;
  let problem: string | undefined;
  try {
    const text = JSON.stringify(value);
    copy = text === undefined ? null : (JSON.parse(text) as unknown);
    problem = hostileStructure(copy, 'data');
  } catch (cause) {
    problem = describeError(cause).message;
  }
  if (problem === undefined) return copy;
  throw new TerminalError(
    `The handler of command '${message.type}' (message ${message.id}) returned data no reply can carry (${problem}); return plain JSON data: strings, numbers, booleans, null, arrays and objects, no '__proto__' keys, at most 64 levels deep.`,
    { code: 'COMMAND_REPLY_INVALID' },
  );
}

function keyReused(message: Envelope, key: string): CommandReply {
  return {
    outcome: 'rejected',
    code: 'IDEMPOTENCY_KEY_REUSED',
    message: `Idempotency key '${key}' was first used by a different command (type or data other than this '${message.type}' message ${message.id}); nothing was applied. Send a new key for a new command, or resend the original command unchanged.`,
  };
}

/** A final reply as stored with its key: `ok` → 200, `rejected` → 422, the reply as the JSON body. */
function toStoredResponse(reply: CommandReply): StoredResponse {
  return {
    status: reply.outcome === 'ok' ? COMMAND_OK_STATUS : COMMAND_REJECTED_STATUS,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(reply),
  };
}

/** The reply an earlier attempt stored. */
function storedReply(response: StoredResponse, scope: string, key: string): CommandReply {
  let reply: CommandReply | string;
  try {
    reply = parseCommandReply(JSON.parse(response.body));
  } catch {
    reply = 'its body is not JSON';
  }
  const expected = (outcome: string) => (outcome === 'ok' ? COMMAND_OK_STATUS : COMMAND_REJECTED_STATUS);
  if (
    typeof reply === 'string' ||
    reply.outcome === 'failed' ||
    response.status !== expected(reply.outcome)
  ) {
    throw new ConvergeError(
      'COMMAND_REPLY_UNREADABLE',
      `The response stored for idempotency key '${key}' (scope '${scope}') is not a command reply (status ${response.status}); give commandHandler a scope of its own, not one an HTTP endpoint uses.`,
      { details: { scope, key } },
    );
  }
  return reply;
}

/** Appends the reply to the outbox, in the inbox's transaction; nothing when the command has no `replyto`. */
async function sendReply(
  outbox: Outbox,
  tx: Transaction,
  message: Envelope,
  reply: CommandReply,
): Promise<void> {
  if (message.replyto === undefined) return;
  const draft: MessageDraft = {
    type: message.replyto,
    key: message.subject,
    data: reply,
    causationId: message.id,
    ...(message.correlationid === undefined ? {} : { correlationId: message.correlationid }),
    ...(message.idempotencykey === undefined ? {} : { idempotencyKey: message.idempotencykey }),
  };
  try {
    await outbox.append(tx, [draft]);
  } catch (error) {
    if (isConvergeError(error) && (error.code === 'MESSAGE_TOO_LARGE' || error.code === 'MESSAGE_INVALID')) {
      // Retrying cannot make the same reply fit: let the inbox dead-letter the command at once.
      throw new TerminalError(
        `The reply to command '${message.type}' (message ${message.id}) cannot be sent: ${error.message}`,
        { code: 'COMMAND_REPLY_INVALID', cause: error },
      );
    }
    throw error;
  }
}
