import type { Envelope } from '../core/envelope.js';
import type { Transaction } from './storage.js';

/** A committed outbox row. */
export interface OutboxRow {
  /** Insertion order within this database. */
  readonly position: number;
  readonly envelope: Envelope;
  /** The serialized envelope, exactly as appended. */
  readonly body: string;
}

/** Messages a relay holds the exclusive right to publish until it marks or releases them. */
export interface OutboxClaim {
  /** In `position` order; within one key, `sequence` order. */
  readonly rows: readonly OutboxRow[];
  /**
   * Marks every claimed row published.
   * @throws ConvergeError `RELAY_LEASE_LOST` when another relay took the claim over meanwhile
   *   (the rows stay unpublished for it; the messages were at worst published twice).
   */
  markPublished(): Promise<void>;
  /** Gives the claim up without marking anything (the transport was down). */
  release(): Promise<void>;
}

export interface OutboxStatus {
  /** Committed messages not yet published. */
  readonly backlog: number;
  /** When the oldest unpublished message was appended, or null when the backlog is empty. */
  readonly oldestUnpublishedAt: Date | null;
  /** Published rows still kept (not yet pruned). */
  readonly publishedRetained: number;
}

/**
 * What a relay reports about itself in a heartbeat. Counters cover the time since `startedAt`
 * (this run of the relay); the store stamps the heartbeat with its own clock.
 */
export interface RelayHeartbeat {
  readonly relayId: string;
  /** The machine the relay runs on, or null when unknown. */
  readonly host: string | null;
  /** The relay's process id, or null when unknown. */
  readonly pid: number | null;
  /** How often the relay promises a heartbeat; readers judge silence by it. */
  readonly heartbeatIntervalMs: number;
  readonly startedAt: Date;
  /** Messages this run published. */
  readonly published: number;
  /** Null: nothing published in this run (the store keeps an earlier run's time). */
  readonly lastPublishedAt: Date | null;
  readonly consecutiveFailures: number;
  /** Short and free of secrets; null: no failure in this run (the store keeps an earlier one). */
  readonly lastError: string | null;
  readonly lastErrorAt: Date | null;
  /** True for the relay's last heartbeat, written by a clean `stop()`. */
  readonly stopped: boolean;
}

/** A relay's row as last written, read back. */
export interface RelayRecord extends Omit<RelayHeartbeat, 'stopped'> {
  /** When the store received the last heartbeat (the database's clock). */
  readonly heartbeatAt: Date;
  /** When the relay stopped cleanly, or null while it runs (or after it was killed). */
  readonly stoppedAt: Date | null;
}

/** Every relay that reported a heartbeat and is not pruned yet. */
export interface RelayList {
  /** The database's clock when it read the rows: heartbeat ages are measured against it. */
  readonly observedAt: Date;
  /** Newest heartbeat first. */
  readonly relays: readonly RelayRecord[];
  /**
   * Where one relay at a time holds the outbox (no `skipLocked`: SQLite's `outbox-relay` lease),
   * the relay holding it now; null when nobody does, or where relays share the outbox.
   */
  readonly leaseHolder: string | null;
}

/**
 * The outbox table of one owner's database.
 *
 * Invariant (the relay's): a row is either unpublished, claimed by at most one relay, or
 * published; a committed row stays unpublished until a relay that published it marks it, so no
 * committed message can be skipped, whatever order transactions commit in.
 */
export interface OutboxStore {
  /**
   * Reserves the next `count` sequence numbers of (`source`, `key`) inside `tx` and returns the
   * first. The key's counter stays locked until `tx` ends, so producers of one key take turns and
   * sequence order is commit order.
   */
  reserveSequence(tx: Transaction, source: string, key: string, count: number): Promise<number>;
  /** Inserts envelopes (their sequence already set) inside `tx`; signals `OUTBOX_CHANNEL` on commit where supported. */
  insert(
    tx: Transaction,
    messages: readonly { readonly envelope: Envelope; readonly body: string }[],
  ): Promise<void>;
  /**
   * Claims up to `limit` unpublished committed rows for `relayId`, oldest first, or returns null
   * when there are none (or another relay holds them). A claim lasts at most `leaseMs`.
   */
  claim(options: {
    readonly relayId: string;
    readonly limit: number;
    readonly leaseMs: number;
  }): Promise<OutboxClaim | null>;
  /**
   * Gives up whatever `relayId` still holds beyond its claims, so a replacement relay can start at
   * once (SQLite: expires its outbox lease, keeping the fencing token; PostgreSQL: nothing, row
   * locks end with each claim). Called by `relay.stop()`.
   */
  releaseRelay(relayId: string): Promise<void>;
  /** Deletes up to `limit` rows published before `before`; returns how many. */
  prunePublished(before: Date, limit: number): Promise<number>;
  status(): Promise<OutboxStatus>;
  /**
   * Inserts or replaces the row of `heartbeat.relayId`, stamped with the store's clock; clears
   * `stoppedAt` unless `stopped`, which sets it. A null `lastPublishedAt`, `lastError` or
   * `lastErrorAt` keeps the value already stored.
   */
  recordHeartbeat(heartbeat: RelayHeartbeat): Promise<void>;
  /** Every relay's last heartbeat, with the current outbox lease holder where there is one. */
  listRelays(): Promise<RelayList>;
  /** Deletes the rows of relays whose last heartbeat (a stopped one's last) is older than `before`; returns how many. */
  pruneRelays(before: Date): Promise<number>;
}
