/**
 * The SQL log transport: messages are rows of an append-only log table, each consumer group keeps
 * its position in the same database. In a SQLite file it is the embedded default (no broker); on
 * PostgreSQL it is "Postgres as the broker".
 *
 * A subscription, in prose: it *acquires* its group's lease (or waits as a standby while another
 * subscriber holds it), *reads* a batch after the group's committed position, hands it to
 * `onBatch`, then *commits* the new position under the lease's fencing token. An empty read
 * *waits* for a notification or `pollIntervalMs`. A failure (the handler threw, the database is
 * down) *backs off* with jitter and reads again from the committed position, so the batch is
 * delivered again (at-least-once). A lost lease sends it back to acquiring.
 */
import { isConvergeError } from '../../core/errors.js';
import { newMessageId } from '../../core/ids.js';
import { backoffDelayMs } from '../../core/retry-policy.js';
import { Waker } from '../../core/waker.js';
import type { GroupLease, LogStore } from '../../ports/log-store.js';
import { LOG_CHANNEL, type Storage } from '../../ports/storage.js';
import type {
  Delivery,
  OutgoingMessage,
  SubscribeOptions,
  Subscription,
  Transport,
  TransportCapabilities,
} from '../../ports/transport.js';

export interface SqlLogTransportOptions {
  /** The database that holds the log (often a dedicated one all services reach). */
  readonly storage: Storage;
  /** Longest wait for new messages without a notification. Default 250 ms. */
  readonly pollIntervalMs?: number;
  /** How long a group's lease lasts without renewal. Default 15000 ms. */
  readonly leaseMs?: number;
  /** Largest backoff after failures. Default 10000 ms. */
  readonly maxBackoffMs?: number;
}

const CAPABILITIES: TransportCapabilities = Object.freeze({
  durable: true,
  ordered: true,
  consumerGroups: true,
});

/** Creates a SQL log transport over `storage.log`. */
export function createSqlLogTransport(options: SqlLogTransportOptions): Transport {
  const store = options.storage.log;
  const config = Object.freeze({
    pollIntervalMs: options.pollIntervalMs ?? 250,
    leaseMs: options.leaseMs ?? 15_000,
    backoff: {
      maxAttempts: Number.POSITIVE_INFINITY,
      initialDelayMs: 50,
      maxDelayMs: options.maxBackoffMs ?? 10_000,
      multiplier: 2,
    },
  });
  const subscriptions = new Set<Subscription>();

  return {
    capabilities: CAPABILITIES,
    description: `sql-log on ${options.storage.description}`,
    async publish(messages: readonly OutgoingMessage[]): Promise<void> {
      await store.append(messages);
    },
    async subscribe(
      subscribeOptions: SubscribeOptions,
      onBatch: (batch: readonly Delivery[]) => Promise<void>,
    ) {
      const subscription = startSubscription(options.storage, store, config, subscribeOptions, onBatch);
      subscriptions.add(subscription);
      return {
        close: async () => {
          subscriptions.delete(subscription);
          await subscription.close();
        },
      };
    },
    async close(): Promise<void> {
      await Promise.all([...subscriptions].map((subscription) => subscription.close()));
      subscriptions.clear();
    },
  };
}

function startSubscription(
  storage: Storage,
  store: LogStore,
  config: { pollIntervalMs: number; leaseMs: number; backoff: Parameters<typeof backoffDelayMs>[0] },
  options: SubscribeOptions,
  onBatch: (batch: readonly Delivery[]) => Promise<void>,
): Subscription {
  const holderId = `subscriber-${newMessageId()}`;
  const batchSize = options.batchSize ?? 100;
  const waker = new Waker();
  let running = true;
  let lease: GroupLease | null = null;
  let leaseTakenAt = 0;
  let unlisten: (() => Promise<void>) | null = null;

  async function holdLease(): Promise<GroupLease | null> {
    // Renew at a third of the lease time so a live subscriber never lets it lapse.
    if (lease !== null && Date.now() - leaseTakenAt < config.leaseMs / 3) return lease;
    const taken = await store.acquireGroup(options.group, holderId, config.leaseMs);
    if (taken !== null) leaseTakenAt = Date.now();
    lease = taken;
    return taken;
  }

  async function run(): Promise<void> {
    if (storage.capabilities.notifications && storage.listen) {
      unlisten = await storage.listen(LOG_CHANNEL, () => waker.wake()).catch(() => null);
    }
    let failures = 0;
    let position: number | null = null;
    while (running) {
      try {
        const current = await holdLease();
        if (current === null) {
          position = null;
          await waker.wait(config.pollIntervalMs * 4);
          continue;
        }
        position ??= await store.committedPosition(options.group);
        const records = await store.read(position, batchSize);
        if (records.length === 0) {
          failures = 0;
          await waker.wait(config.pollIntervalMs);
          continue;
        }
        await onBatch(records.map((record) => ({ transportId: String(record.position), body: record.body })));
        const last: number = records.at(-1)?.position ?? position;
        await store.commit(current, last);
        position = last;
        failures = 0;
      } catch (error) {
        position = null;
        if (isConvergeError(error) && error.code === 'LOG_LEASE_LOST') lease = null;
        failures += 1;
        options.onError?.(error);
        if (!running) break;
        await sleepUnlessStopped(backoffDelayMs(config.backoff, failures), () => running);
      }
    }
    await unlisten?.().catch(() => undefined);
    if (lease !== null) await store.releaseGroup(lease).catch(() => undefined);
  }

  const loop = run();
  return {
    close: async () => {
      running = false;
      waker.wake();
      await loop;
    },
  };
}

/** Sleeps `ms`, checking every 50 ms whether the subscription was closed. */
async function sleepUnlessStopped(ms: number, isRunning: () => boolean): Promise<void> {
  const until = Date.now() + ms;
  while (isRunning() && Date.now() < until) {
    await new Promise((resolve) => setTimeout(resolve, Math.min(50, until - Date.now())));
  }
}
