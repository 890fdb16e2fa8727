/**
 * Consumers: subscribe a handler to a transport so that each message is applied exactly once,
 * in per-key order, inside a transaction of the consumer's own database.
 *
 * A consumer, in prose: the transport hands it batches; each batch is processed in one
 * transaction of the consumer's database (the `MessageProcessor` state machine: optimistically
 * without savepoints, and again with one savepoint per handler call if anything failed), the
 * transaction commits, and only then is the batch acknowledged. A crash before
 * the commit redelivers the batch and nothing was applied; a crash after it redelivers the batch
 * and every message is recognised as already handled. Beside it a retry loop applies parked
 * messages whose turn has come and whose backoff has passed. A subscription's batch and retry
 * work never overlap (one lock per subscription).
 */
import { DEFAULT_DEAD_LETTER_PAYLOAD_BYTES } from '../core/dead-letter-record.js';
import { DEFAULT_MAX_MESSAGE_BYTES } from '../core/envelope.js';
import { ConvergeError, describeError } from '../core/errors.js';
import { AsyncMutex } from '../core/mutex.js';
import { DEFAULT_RETRY_POLICY, type RetryPolicy } from '../core/retry-policy.js';
import { Waker } from '../core/waker.js';
import { type FaultInjector, FaultPoint, noFaults } from '../ports/fault-points.js';
import type { PoisonPolicy } from '../ports/inbox-store.js';
import { type Logger, silentLogger } from '../ports/logger.js';
import type { Storage } from '../ports/storage.js';
import type { Delivery, Subscription, Transport } from '../ports/transport.js';
import { AutoRedrive, type AutoRedriveOptions } from './auto-redrive.js';
import { type Batch, type MessageHandler, MessageProcessor } from './message-processor.js';
import { compileSchemas, type MessageSchemas } from './message-schemas.js';

export interface InboxOptions {
  /** The consumer service's own database (where its effects, receipts and dead letters live). */
  readonly storage: Storage;
  readonly transport: Transport;
  readonly logger?: Logger;
  /** Test hook: see `FaultPoint`. */
  readonly faults?: FaultInjector;
}

export interface SubscriptionOptions {
  /** The consumer's name: its consumer group on the transport and its inbox's name. */
  readonly consumer: string;
  /** Message types the handler applies; other types of a subscribed key are acknowledged without effect. Default: all. */
  readonly types?: readonly string[];
  /** Only messages from these sources; default: all. */
  readonly sources?: readonly string[];
  /** Dead-letter (`UNKNOWN_TYPE`) instead of ignoring a type not in `types`. Default false. */
  readonly rejectUnknownTypes?: boolean;
  /** After a dead letter: keep the key's later messages waiting (`block-key`, default) or move on (`skip`). */
  readonly poisonPolicy?: PoisonPolicy;
  /** Retries of a failing handler. Default: 8 attempts, 200 ms doubling to 30 s, equal jitter. */
  readonly retry?: Partial<RetryPolicy>;
  /** Largest message applied; larger ones are dead-lettered `OVERSIZED`. Default 256 KiB. */
  readonly maxMessageBytes?: number;
  /** Messages per transaction. Default 100. */
  readonly batchSize?: number;
  /** How often parked messages are checked for a due retry. Default 250 ms. */
  readonly retryPollIntervalMs?: number;
  /**
   * Replays dead letters of transient reasons by themselves once the consumer applies messages
   * again (see `AutoRedrive`). Default on; `false` turns it off.
   */
  readonly autoRedrive?: false | AutoRedriveOptions;
  /** JSON Schemas of `data` by message type; a mismatch is dead-lettered `SCHEMA_INVALID`. */
  readonly schemas?: MessageSchemas;
  /**
   * Longest one handler call may take, in ms; `false`: no limit. Default 30000. A call that takes
   * longer is a failed attempt: its writes are rolled back, its `tx` refuses further statements,
   * and it is retried like any failure; when the last attempt timed out, the dead letter's reason
   * is `HANDLER_TIMEOUT`. The handler itself cannot be stopped (ADR 0015).
   */
  readonly handlerTimeoutMs?: number | false;
}

/** A running consumer. */
export interface Consumer {
  readonly name: string;
  /** Stops receiving and retrying; resolves when the work in flight is done. */
  stop(): Promise<void>;
}

export interface Inbox {
  /**
   * Starts a consumer: `handler` runs inside a transaction of the consumer's database, and the
   * receipt is recorded in that same transaction, so the effect happens once even when the
   * message arrives twice.
   *
   * @throws ConvergeError `CONFIG_INVALID` for a bad option.
   * @example
   * await inbox.subscribe({ consumer: 'billing', types: ['customer.unsubscribed'] }, async (message, tx) => {
   *   await tx.execute('UPDATE billing SET active = 0 WHERE customer_id = ?', [message.subject]);
   * });
   */
  subscribe<TData = unknown>(options: SubscriptionOptions, handler: MessageHandler<TData>): Promise<Consumer>;
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
/** Default `handlerTimeoutMs`. */
export const DEFAULT_HANDLER_TIMEOUT_MS = 30_000;
/** Node's timers fire at once beyond this (2^31 − 1 ms, about 24.8 days). */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** Creates the inbox of one consumer service. */
export function createInbox(options: InboxOptions): Inbox {
  const logger = options.logger ?? silentLogger;
  const faults = options.faults ?? noFaults;
  return {
    async subscribe<TData>(
      subscription: SubscriptionOptions,
      handler: MessageHandler<TData>,
    ): Promise<Consumer> {
      const config = resolve(subscription);
      const processor = new MessageProcessor({
        consumer: config.consumer,
        store: options.storage.inbox,
        handler: handler as MessageHandler,
        types: config.types === undefined ? null : new Set(config.types),
        sources: config.sources === undefined ? null : new Set(config.sources),
        rejectUnknownTypes: config.rejectUnknownTypes,
        poisonPolicy: config.poisonPolicy,
        retry: config.retry,
        maxMessageBytes: config.maxMessageBytes,
        maxDrain: 1000,
        maxDeadLetterBodyBytes: DEFAULT_DEAD_LETTER_PAYLOAD_BYTES,
        validateData: compileSchemas(config.consumer, subscription.schemas),
        handlerTimeoutMs: config.handlerTimeoutMs,
      });
      await options.storage.assertSchemaCurrent();
      const mutex = new AsyncMutex();

      // Optimistic until a handler fails; careful (a savepoint per message) until a careful batch
      // runs without a handler failure, so a failing dependency is not called twice per delivery.
      let optimistic = true;
      const runBatch = (deliveries: readonly Delivery[], now: Date, mode: { optimistic: boolean }) =>
        options.storage.transaction(async (tx) => {
          const batch: Batch = {
            anyParked: await options.storage.inbox.hasParked(tx, config.consumer),
            optimistic: mode.optimistic,
            handlerFailures: 0,
          };
          for (const delivery of deliveries) await processor.receive(tx, delivery.body, now, batch);
          return batch;
        });
      const onBatch = (deliveries: readonly Delivery[]) =>
        mutex.run(async () => {
          const now = new Date();
          if (optimistic) {
            try {
              await runBatch(deliveries, now, { optimistic: true });
              faults.reach(FaultPoint.AFTER_HANDLER_COMMIT_BEFORE_ACK);
              return;
            } catch {
              // A handler failed (`OptimisticBatchFailed`), or a statement after it did (on
              // PostgreSQL, a handler that swallowed its own SQL error aborts the transaction):
              // either way, run the batch again with a savepoint per message.
            }
          }
          const careful = await runBatch(deliveries, now, { optimistic: false });
          optimistic = careful.handlerFailures === 0;
          faults.reach(FaultPoint.AFTER_HANDLER_COMMIT_BEFORE_ACK);
        });

      const transportSubscription: Subscription = await options.transport.subscribe(
        {
          group: config.consumer,
          batchSize: config.batchSize,
          onError: (error) =>
            logger.warn(
              { consumer: config.consumer, error: describeError(error) },
              `consumer ${config.consumer}: batch failed; it will be delivered again`,
            ),
        },
        onBatch,
      );

      let running = true;
      const redrive =
        config.autoRedrive === false
          ? null
          : new AutoRedrive(options.storage, config.consumer, config.autoRedrive);
      const retryWaker = new Waker();
      const retryLoop = (async () => {
        while (running) {
          await retryWaker.wait(config.retryPollIntervalMs);
          if (!running) break;
          await mutex
            .run(async () => {
              const now = new Date();
              for (const parked of await options.storage.inbox.dueParked(config.consumer, now, 100)) {
                await options.storage.transaction((tx) => processor.retry(tx, parked, now));
              }
              await redrive?.tick(processor.applied);
              // Replays asked for by an operator (`requestDeadLetterReplay`) or by the redrive.
              for (const letter of await options.storage.inbox.replayingDeadLetters(config.consumer, 20)) {
                await options.storage.transaction((tx) => processor.replay(tx, letter, now));
              }
            })
            .catch((error: unknown) =>
              logger.warn(
                { consumer: config.consumer, error: describeError(error) },
                `consumer ${config.consumer}: retry pass failed`,
              ),
            );
        }
      })();

      return {
        name: config.consumer,
        async stop() {
          running = false;
          retryWaker.wake();
          await transportSubscription.close();
          await retryLoop;
        },
      };
    },
  };
}

function resolve(options: SubscriptionOptions) {
  if (typeof options.consumer !== 'string' || !NAME.test(options.consumer)) {
    throw new ConvergeError(
      'CONFIG_INVALID',
      `Subscription 'consumer' must be a name of letters, digits, '.', '-' or '_' (got ${JSON.stringify(options.consumer)}).`,
      { details: { field: 'consumer' } },
    );
  }
  const policy = options.poisonPolicy ?? 'block-key';
  if (policy !== 'block-key' && policy !== 'skip') {
    throw new ConvergeError(
      'CONFIG_INVALID',
      `Consumer '${options.consumer}': poisonPolicy must be 'block-key' or 'skip' (got ${JSON.stringify(policy)}).`,
      {
        details: { field: 'poisonPolicy' },
      },
    );
  }
  const retry = { ...DEFAULT_RETRY_POLICY, ...options.retry };
  if (!Number.isInteger(retry.maxAttempts) || retry.maxAttempts < 1) {
    throw new ConvergeError(
      'CONFIG_INVALID',
      `Consumer '${options.consumer}': retry.maxAttempts must be an integer ≥ 1.`,
      {
        details: { field: 'retry.maxAttempts' },
      },
    );
  }
  const handlerTimeoutMs = options.handlerTimeoutMs ?? DEFAULT_HANDLER_TIMEOUT_MS;
  if (
    handlerTimeoutMs !== false &&
    (!Number.isSafeInteger(handlerTimeoutMs) || handlerTimeoutMs < 1 || handlerTimeoutMs > MAX_TIMER_MS)
  ) {
    throw new ConvergeError(
      'CONFIG_INVALID',
      `Consumer '${options.consumer}': handlerTimeoutMs must be a whole number of milliseconds from 1 to ${MAX_TIMER_MS}, or false for no limit (got ${JSON.stringify(handlerTimeoutMs)}).`,
      { details: { field: 'handlerTimeoutMs' } },
    );
  }
  return Object.freeze({
    consumer: options.consumer,
    handlerTimeoutMs,
    types: options.types,
    sources: options.sources,
    rejectUnknownTypes: options.rejectUnknownTypes ?? false,
    poisonPolicy: policy,
    retry,
    maxMessageBytes: options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES,
    batchSize: options.batchSize ?? 100,
    retryPollIntervalMs: options.retryPollIntervalMs ?? 250,
    autoRedrive: options.autoRedrive ?? {},
  });
}
