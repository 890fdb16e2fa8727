/**
 * Probes for watching a relay from the outside: a transport that can be switched off and held
 * mid-publish, and a storage whose outbox counts what the relay asks of it. Both only observe and
 * delegate; neither changes what the relay sees beyond what a test switches on.
 */
import type {
  Logger,
  OutboxClaim,
  OutboxStore,
  RelayHeartbeat,
  Storage,
  Transport,
} from '../../packages/core/src/index.js';

/** A transport that keeps what it accepted in memory, and can be taken down or held by a test. */
export interface SwitchableTransport extends Transport {
  /** While true, every `publish` rejects (and stores nothing), like a broker that is unreachable. */
  down: boolean;
  /** Calls to `publish`, accepted or not. */
  readonly attempts: number;
  /** Ids of the messages accepted, in publish order (a message published twice appears twice). */
  readonly accepted: readonly string[];
  /**
   * Holds the next `publish` calls until the returned function is called; `entered` resolves
   * once one has started, so a test can act while a batch is in flight.
   */
  hold(): { readonly entered: Promise<void>; release(): void };
  /** Releases any held `publish` (cleanup after a test that failed while holding one). */
  releaseAll(): void;
}

export function createSwitchableTransport(): SwitchableTransport {
  const accepted: string[] = [];
  let attempts = 0;
  let gate: { entered: Deferred<void>; released: Deferred<void> } | null = null;
  const transport: SwitchableTransport = {
    down: false,
    capabilities: Object.freeze({ durable: false, ordered: true, consumerGroups: false }),
    description: 'switchable transport (in memory)',
    get attempts() {
      return attempts;
    },
    accepted,
    hold() {
      const held = { entered: deferred<void>(), released: deferred<void>() };
      gate = held;
      return {
        entered: held.entered.promise,
        release: () => {
          if (gate === held) gate = null;
          held.released.resolve();
        },
      };
    },
    releaseAll() {
      gate?.released.resolve();
      gate = null;
    },
    async publish(messages) {
      attempts += 1;
      if (gate !== null) {
        gate.entered.resolve();
        await gate.released.promise;
      }
      if (transport.down) throw new Error('transport unreachable (switched off by the test)');
      for (const message of messages) accepted.push(message.messageId);
    },
    async subscribe() {
      throw new Error('the switchable transport only records what the relay publishes');
    },
    async close() {},
  };
  return transport;
}

/** One call the relay made to `outbox.prunePublished`. */
export interface PruneCall {
  readonly before: Date;
  /** `Date.now()` when the call was made (after the relay computed `before`). */
  readonly calledAt: number;
  readonly pruned: number;
}

/** What the relay asked of the outbox, counted. */
export interface OutboxProbe {
  /** The storage to hand to the relay: `storage`, with its outbox counted (and, optionally, without notifications). */
  readonly storage: Storage;
  readonly claims: number;
  /** Claims that found nothing to publish. */
  readonly emptyClaims: number;
  readonly prunes: readonly PruneCall[];
  /** Heartbeats the relay tried to write, in order (refused ones too). */
  readonly heartbeats: readonly RelayHeartbeat[];
}

/**
 * Wraps `storage` so every outbox call is counted. With `notifications: false` the wrapper
 * declares no notifications and offers no `listen`, as SQLite does, so a relay must poll. With
 * `failHeartbeats: true` every heartbeat write is refused, as by a database that rejects it.
 */
export function probeOutbox(
  storage: Storage,
  options: { readonly notifications?: boolean; readonly failHeartbeats?: boolean } = {},
): OutboxProbe {
  let claims = 0;
  let emptyClaims = 0;
  const prunes: PruneCall[] = [];
  const heartbeats: RelayHeartbeat[] = [];
  const inner = storage.outbox;
  const outbox: OutboxStore = {
    reserveSequence: (tx, source, key, count) => inner.reserveSequence(tx, source, key, count),
    insert: (tx, messages) => inner.insert(tx, messages),
    async claim(claimOptions): Promise<OutboxClaim | null> {
      claims += 1;
      const claim = await inner.claim(claimOptions);
      if (claim === null) emptyClaims += 1;
      return claim;
    },
    async prunePublished(before, limit) {
      const calledAt = Date.now();
      const pruned = await inner.prunePublished(before, limit);
      prunes.push({ before, calledAt, pruned });
      return pruned;
    },
    releaseRelay: (relayId) => inner.releaseRelay(relayId),
    status: () => inner.status(),
    async recordHeartbeat(heartbeat) {
      heartbeats.push(heartbeat);
      if (options.failHeartbeats === true) throw new Error('heartbeat refused (switched off by the test)');
      await inner.recordHeartbeat(heartbeat);
    },
    listRelays: () => inner.listRelays(),
    pruneRelays: (before) => inner.pruneRelays(before),
  };
  const notifications = options.notifications ?? storage.capabilities.notifications;
  const listen = notifications ? storage.listen?.bind(storage) : undefined;
  const wrapped: Storage = {
    capabilities: Object.freeze({ ...storage.capabilities, notifications }),
    description: storage.description,
    transaction: (work) => storage.transaction(work),
    migrate: (migrateOptions) => storage.migrate(migrateOptions),
    assertSchemaCurrent: () => storage.assertSchemaCurrent(),
    ...(listen === undefined ? {} : { listen }),
    outbox,
    inbox: storage.inbox,
    log: storage.log,
    evidence: storage.evidence,
    sagas: storage.sagas,
    idempotency: storage.idempotency,
    pendingMarkers: storage.pendingMarkers,
    commandReplies: storage.commandReplies,
    // The test's databases own the real storage and close it; the relay never closes storage.
    close: async () => {},
  };
  return {
    storage: wrapped,
    get claims() {
      return claims;
    },
    get emptyClaims() {
      return emptyClaims;
    },
    prunes,
    heartbeats,
  };
}

/** A logger that keeps the relay's warnings with their fields. */
export function createWarningLog(): {
  readonly logger: Logger;
  readonly warnings: readonly { readonly fields: Record<string, unknown>; readonly message: string }[];
} {
  const warnings: { fields: Record<string, unknown>; message: string }[] = [];
  const ignore = () => {};
  return {
    warnings,
    logger: {
      debug: ignore,
      info: ignore,
      warn: (fields, message) => warnings.push({ fields, message }),
      error: (fields, message) => warnings.push({ fields, message }),
    },
  };
}

export interface Deferred<T> {
  readonly promise: Promise<T>;
  resolve(value: T): void;
}

export function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Resolves with `promise`, or rejects naming `what` once `ms` passed: a bound on a wait that
 * would otherwise hang the test, not a speed assertion.
 */
export async function within<T>(what: string, ms: number, promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not settle within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
