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
}
