/**
 * The few parts of node-postgres (`pg`) this adapter uses, as structural types, so that Converge's
 * types never import `pg` and you can hand over your own pool (a `pg.Pool`, or anything shaped
 * like one). Only `createPostgresStorage({ connectionString })` loads `pg` itself.
 */

/** What `client.query(text, values)` resolves to. */
export interface PgQueryResultLike {
  readonly rows: readonly Record<string, unknown>[];
  /** Rows changed by an INSERT/UPDATE/DELETE (null for other commands in some drivers). */
  readonly rowCount: number | null;
  /** The command tag (`'COMMIT'`, `'ROLLBACK'`, …) when the driver reports it. */
  readonly command?: string;
}

/** A `LISTEN` notification as `pg` emits it. */
export interface PgNotificationLike {
  readonly channel: string;
  readonly payload?: string | undefined;
}

/** An event listener as `pg` clients take it (`'error'` passes an Error, `'notification'` a PgNotificationLike). */
export type PgEventListener = (...args: unknown[]) => void;

/**
 * One connection checked out of a pool (a `pg.PoolClient`). `on`/`removeListener` are used, when
 * present, to survive a connection that dies while Converge holds it idle (a `pg` client without an
 * `'error'` listener would otherwise crash the process) and to receive notifications.
 */
export interface PgClientLike {
  query(text: string, values?: unknown[]): Promise<PgQueryResultLike>;
  /** Returns the connection to its pool; with an error (or `true`) the pool destroys it instead. */
  release(err?: Error | boolean): void;
  on?(event: 'error' | 'end' | 'notification', listener: PgEventListener): unknown;
  removeListener?(event: 'error' | 'end' | 'notification', listener: PgEventListener): unknown;
  /** `'I'` idle, `'T'` in a transaction, `'E'` in a failed transaction (pg ≥ 8.12). */
  getTransactionStatus?(): string | null;
}

/** A connection pool (a `pg.Pool`). */
export interface PgPoolLike {
  connect(): Promise<PgClientLike>;
  query(text: string, values?: unknown[]): Promise<PgQueryResultLike>;
  end(): Promise<void>;
}
