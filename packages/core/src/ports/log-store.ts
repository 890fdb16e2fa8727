/** A message kept in the SQL log transport. */
export interface LogRecord {
  /**
   * Increases in commit order: a reader that has seen position p has seen every committed record
   * before p (a rolled-back append may leave a hole in the numbers, never a record appearing later).
   */
  readonly position: number;
  readonly messageId: string;
  readonly body: string;
}

/** What a publisher appends to the log. */
export interface LogEntry {
  readonly messageId: string;
  readonly source: string;
  readonly type: string;
  readonly key: string;
  readonly body: string;
}

/** A consumer group's exclusive right to read and commit, with its fencing token. */
export interface GroupLease {
  readonly group: string;
  readonly holderId: string;
  /** Increases every time the lease changes hands; a commit with an older token is refused. */
  readonly token: number;
}

/**
 * The storage behind the SQL log transport: an append-only message log and a durable position
 * per consumer group.
 *
 * Invariant: positions become visible in increasing order (the appender serializes commits), so
 * reading `position > committed` never skips a record that commits later.
 */
export interface LogStore {
  /** Appends in one transaction; resolves once durable. Signals `LOG_CHANNEL` where supported. */
  append(entries: readonly LogEntry[]): Promise<void>;
  /** Takes (or renews, for the same holder) the group's lease; null while another holder's lease is live. */
  acquireGroup(group: string, holderId: string, leaseMs: number): Promise<GroupLease | null>;
  /** Gives the lease up early so another holder may take it at once. */
  releaseGroup(lease: GroupLease): Promise<void>;
  /** The group's committed position (0 when new). */
  committedPosition(group: string): Promise<number>;
  /** Up to `limit` records after `afterPosition`, in position order. */
  read(afterPosition: number, limit: number): Promise<LogRecord[]>;
  /**
   * Stores the group's position.
   * @throws ConvergeError `LOG_LEASE_LOST` when `lease.token` is no longer the group's current token.
   */
  commit(lease: GroupLease, position: number): Promise<void>;
  /** The highest position appended so far (0 when empty). */
  headPosition(): Promise<number>;
}
