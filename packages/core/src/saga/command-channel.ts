/**
 * The command channel: how an orchestrating service sends saga commands over the transport and
 * gets their replies (the `CommandRequester` that `commandCall` uses).
 *
 * A request, in prose. The channel first *looks* in its database for a final reply (`ok` or
 * `rejected`) to an earlier command with the same idempotency key — after a takeover, the
 * instance that retries the step finds the answer the dead instance was waiting for, and sends
 * nothing. Otherwise it *sends*: the command is appended to the orchestrating service's outbox in
 * a transaction of its own (the relay publishes it: a command is never sent out of order with the
 * service's other messages of its key, and never lost once `request` has passed this point), with
 * the attributes `idempotencykey`, `replyto` and `correlationid` (the saga id). Then it *waits*:
 * until the reply to that command arrives, or the attempt's signal aborts (the step's timeout, or
 * the saga was given up).
 *
 * Replies arrive through the orchestrating service's inbox, as messages of type `replyTo` from
 * any participant, one consumer group for all the instances. Each is recorded in the inbox's
 * transaction (`CommandReplyStore`, keyed by the command's id = the reply's `causationid`), so a
 * reply outlives the instance that waited for it; the instance that consumed it also hands it at
 * once to its own waiting call. Calls waiting in other instances find it by polling the store
 * every `pollIntervalMs` (one query for all of them).
 *
 * A reply that names no command (no `causationid`) or is not a `CommandReply` cannot be matched
 * to a step: it is dead-lettered (`converge dead-letters`), never silently dropped. The waiting
 * step then times out and retries, and the participant answers the retry with its stored reply.
 */
import {
  ConvergeError,
  describeError,
  isConvergeError,
  RetryableError,
  TerminalError,
} from '../core/errors.js';
import { newMessageId } from '../core/ids.js';
import { Waker } from '../core/waker.js';
import type { Consumer, Inbox } from '../inbox/inbox.js';
import type { MessageHandler } from '../inbox/message-processor.js';
import type { Outbox } from '../outbox/outbox.js';
import type { RecordedCommandReply } from '../ports/command-reply-store.js';
import { type Logger, silentLogger } from '../ports/logger.js';
import type { Storage } from '../ports/storage.js';
import {
  type CommandReply,
  type CommandRequest,
  type CommandRequester,
  parseCommandReply,
} from './command-call.js';

export interface CommandChannelOptions {
  /** The orchestrating service's own database: its outbox rows and the recorded replies. */
  readonly storage: Storage;
  /** The orchestrating service's outbox (a relay must publish it to the transport). */
  readonly outbox: Outbox;
  /** The orchestrating service's inbox, on the transport the participants reply over. */
  readonly inbox: Inbox;
  /**
   * The message type participants send their replies as, e.g. `orders.saga.reply`: one per
   * orchestrating service (the transport delivers by type). Also the reply consumer's name.
   */
  readonly replyTo: string;
  /** How often calls waiting in this process look for replies another instance recorded. Default 100 ms. */
  readonly pollIntervalMs?: number;
  /**
   * How long recorded replies are kept: a reply is needed only while its saga runs. Pruned at
   * start and every hour while the channel runs. Default 7 days.
   */
  readonly replyRetentionMs?: number;
  readonly logger?: Logger;
}

/** A started channel: a `CommandRequester` for `commandCall`, plus its reply consumer's life. */
export interface CommandChannel extends CommandRequester {
  readonly replyTo: string;
  /** Starts consuming replies (idempotent). */
  start(): Promise<void>;
  /** Stops consuming replies; calls still waiting end with a retryable `COMMAND_CHANNEL_STOPPED`. */
  stop(): Promise<void>;
}

/** A call waiting for its reply. */
interface Waiter {
  readonly resolve: (reply: CommandReply) => void;
  readonly reject: (error: unknown) => void;
}

const REPLY_TO = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
/** Recorded replies deleted per statement, and how often pruning runs. */
const PRUNE_CHUNK = 1_000;
const PRUNE_INTERVAL_MS = 60 * 60 * 1000;
const DEFAULT_REPLY_RETENTION_MS = 7 * 24 * 60 * 60 * 1000;

/**
 * Creates the command channel of an orchestrating service. Start it before the orchestrator and
 * stop it after, so no call waits on a channel that no longer listens.
 *
 * @throws ConvergeError `CONFIG_INVALID` for a bad `replyTo` or `pollIntervalMs`.
 */
export function createCommandChannel(options: CommandChannelOptions): CommandChannel {
  const config = resolveOptions(options);
  const { storage, outbox } = options;
  const logger = options.logger ?? silentLogger;
  const waiters = new Map<string, Waiter>();
  const waker = new Waker();
  let consumer: Consumer | null = null;
  let starting: Promise<void> | null = null;
  let stopped = false;
  let polling: Promise<void> | null = null;
  let pruning: NodeJS.Timeout | null = null;

  const prune = async () => {
    const before = new Date(Date.now() - config.replyRetentionMs);
    try {
      while ((await storage.commandReplies.prune(before, PRUNE_CHUNK)) === PRUNE_CHUNK && !stopped);
    } catch (error) {
      logger.warn(
        { replyTo: config.replyTo, error: describeError(error) },
        `command channel ${config.replyTo}: pruning old replies failed; trying again in an hour`,
      );
    }
  };

  const settle = (requestId: string, reply: CommandReply) => {
    const waiter = waiters.get(requestId);
    if (waiter === undefined) return;
    waiters.delete(requestId);
    waiter.resolve(reply);
  };

  // One loop for every waiting call of this process, running only while some call waits.
  const poll = async () => {
    while (waiters.size > 0 && !stopped) {
      await waker.wait(config.pollIntervalMs);
      try {
        // The store splits a long list into queries of its own size.
        for (const found of await storage.commandReplies.forRequests([...waiters.keys()]))
          settle(found.requestId, found.reply as CommandReply);
      } catch (error) {
        logger.warn(
          { replyTo: config.replyTo, error: describeError(error) },
          `command channel ${config.replyTo}: looking for replies failed; trying again`,
        );
      }
    }
    polling = null;
  };

  const onReply: MessageHandler = async (message, tx) => {
    const requestId = message.causationid;
    if (requestId === undefined || requestId === '')
      throw new TerminalError(
        `Reply ${message.id} names no command (no 'causationid'): it cannot be matched to a saga step. Participants reply with commandHandler, which sets it.`,
        { code: 'COMMAND_REPLY_UNMATCHED' },
      );
    const reply = parseCommandReply(message.data);
    if (typeof reply === 'string')
      throw new TerminalError(
        `Reply ${message.id} to command ${requestId} is not a command reply: ${reply}.`,
        { code: 'COMMAND_REPLY_INVALID' },
      );
    const recorded: RecordedCommandReply = {
      requestId,
      idempotencyKey: message.idempotencykey ?? '',
      outcome: reply.outcome,
      reply,
      receivedAt: new Date(),
    };
    await storage.commandReplies.record(tx, recorded);
    // The reply is the participant's committed answer whether or not this transaction commits,
    // so a call waiting here may have it now.
    settle(requestId, reply);
  };

  return {
    replyTo: config.replyTo,
    async start() {
      if (stopped)
        throw new ConvergeError(
          'CONFIG_INVALID',
          `Command channel ${config.replyTo} was stopped; create a new one.`,
        );
      starting ??= (async () => {
        consumer = await options.inbox.subscribe(
          { consumer: config.replyTo, types: [config.replyTo], poisonPolicy: 'skip' },
          onReply,
        );
        await prune();
        pruning = setInterval(() => void prune(), PRUNE_INTERVAL_MS);
      })();
      await starting;
    },
    async stop() {
      stopped = true;
      if (pruning !== null) clearInterval(pruning);
      waker.wake();
      await starting?.catch(() => undefined);
      await consumer?.stop();
      const stopping = new RetryableError(
        `Command channel ${config.replyTo} stopped while the call waited for its reply; the step is retried (the participant answers a repeat with its stored reply).`,
        { code: 'COMMAND_CHANNEL_STOPPED' },
      );
      for (const [id, waiter] of waiters) {
        waiters.delete(id);
        waiter.reject(stopping);
      }
      await polling;
    },
    async request(command: CommandRequest, signal: AbortSignal): Promise<CommandReply> {
      signal.throwIfAborted();
      if (stopped || consumer === null)
        throw new RetryableError(
          `Command channel ${config.replyTo} is not running: call start() before the orchestrator runs sagas that send commands.`,
          { code: 'COMMAND_CHANNEL_STOPPED' },
        );
      const earlier = await storage.commandReplies.finalFor(command.idempotencyKey);
      if (earlier !== undefined) return earlier.reply as CommandReply;
      const requestId = newMessageId();
      const answered = new Promise<CommandReply>((resolve, reject) => {
        waiters.set(requestId, { resolve, reject });
      });
      // It may be rejected (aborted) while the command is still being written, before it is awaited.
      answered.catch(() => undefined);
      const onAbort = () => {
        const waiter = waiters.get(requestId);
        waiters.delete(requestId);
        waiter?.reject(signal.reason);
      };
      signal.addEventListener('abort', onAbort, { once: true });
      try {
        await sendCommand(() =>
          storage.transaction((tx) =>
            outbox.append(tx, [
              {
                id: requestId,
                type: command.type,
                key: command.key,
                data: command.data,
                idempotencyKey: command.idempotencyKey,
                replyTo: config.replyTo,
                ...(command.sagaId === undefined ? {} : { correlationId: command.sagaId }),
              },
            ]),
          ),
        );
        polling ??= poll();
        return await answered;
      } catch (error) {
        waiters.delete(requestId);
        throw error;
      } finally {
        signal.removeEventListener('abort', onAbort);
      }
    },
  };
}

/** Codes of `outbox.append` errors that no retry can fix: the command itself is wrong. */
const INVALID_COMMAND_CODES: ReadonlySet<string> = new Set(['MESSAGE_INVALID', 'MESSAGE_TOO_LARGE']);

/** Writes the command; an invalid one fails the step at once (a `TerminalError`), not after its retries. */
async function sendCommand(write: () => Promise<unknown>): Promise<void> {
  try {
    await write();
  } catch (error) {
    if (isConvergeError(error) && INVALID_COMMAND_CODES.has(error.code))
      throw new TerminalError(`The command cannot be sent: ${error.message}`, {
        code: 'COMMAND_INVALID',
        cause: error,
        details: { ...error.details, cause: error.code },
      });
    throw error;
  }
}

function resolveOptions(options: CommandChannelOptions) {
  if (typeof options.replyTo !== 'string' || !REPLY_TO.test(options.replyTo))
    throw new ConvergeError(
      'CONFIG_INVALID',
      `Command channel 'replyTo' must be a message type of letters, digits, '.', '-' or '_' (it also names the reply consumer), e.g. 'orders.saga.reply'; got ${JSON.stringify(options.replyTo)}.`,
      { details: { field: 'replyTo' } },
    );
  const pollIntervalMs = options.pollIntervalMs ?? 100;
  if (!Number.isSafeInteger(pollIntervalMs) || pollIntervalMs < 1 || pollIntervalMs > 60_000)
    throw new ConvergeError(
      'CONFIG_INVALID',
      `Command channel ${options.replyTo}: 'pollIntervalMs' must be a whole number of milliseconds from 1 to 60000 (got ${JSON.stringify(options.pollIntervalMs)}).`,
      { details: { field: 'pollIntervalMs' } },
    );
  const replyRetentionMs = options.replyRetentionMs ?? DEFAULT_REPLY_RETENTION_MS;
  if (!Number.isSafeInteger(replyRetentionMs) || replyRetentionMs < 60_000)
    throw new ConvergeError(
      'CONFIG_INVALID',
      `Command channel ${options.replyTo}: 'replyRetentionMs' must be a whole number of milliseconds of at least 60000 — longer than any saga waits for a reply (got ${JSON.stringify(options.replyRetentionMs)}).`,
      { details: { field: 'replyRetentionMs' } },
    );
  return Object.freeze({ replyTo: options.replyTo, pollIntervalMs, replyRetentionMs });
}
