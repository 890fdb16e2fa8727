/**
 * What differs between the SQLite and PostgreSQL adapters' SQL, for the stores whose statements are
 * otherwise the same on both (`SqlCommandReplyStore`, `SqlIdempotencyStore`): table names,
 * placeholders, how times and JSON are stored, and how to run a statement outside a transaction.
 */
export interface SqlDialect {
  /** Converge's table `name`, qualified as the backend keeps it (`converge.name`, `converge_name`). */
  table(name: string): string;
  /** The i-th (1-based) placeholder. */
  placeholder(index: number): string;
  /** A time as a time column takes it (`timestamptz`, epoch milliseconds), and back. */
  toTime(at: Date): unknown;
  fromTime(value: unknown): Date;
  /**
   * A JSON column's value as read back (`jsonb` comes parsed, text does not). JSON goes in as its
   * text on both backends (pg would turn a JavaScript array into a PostgreSQL array, not JSON).
   */
  fromJson(value: unknown): unknown;
  /** Reads outside a transaction, through the storage's own connection. */
  read(sql: string, params: readonly unknown[]): Promise<readonly unknown[]>;
  /** Runs one write statement in a transaction of its own; resolves to the number of rows it changed. */
  write(sql: string, params: readonly unknown[]): Promise<number>;
}
