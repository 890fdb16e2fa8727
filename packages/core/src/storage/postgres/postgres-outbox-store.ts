import type { Envelope } from '../../core/envelope.js';
import type {
  OutboxClaim,
  OutboxRow,
  OutboxStatus,
  OutboxStore,
  RelayHeartbeat,
  RelayList,
  RelayRecord,
} from '../../ports/outbox-store.js';
import { OUTBOX_CHANNEL, type Transaction } from '../../ports/storage.js';
import type { PgConnection } from './pg-connection.js';
import { toNumber } from './pg-connection.js';
import { PostgresOutboxClaim } from './postgres-outbox-claim.js';

interface RelayRow {
  relay_id: string;
  host: string | null;
  pid: number | null;
  heartbeat_interval_ms: number;
  started_at: Date;
  heartbeat_at: Date;
  published: string;
  last_published_at: Date | null;
  consecutive_failures: number;
  last_error: string | null;
  last_error_at: Date | null;
  stopped_at: Date | null;
  observed_at: Date;
}

/** PostgreSQL's largest `idle_in_transaction_session_timeout` (a 32-bit number of ms). */
const MAX_TIMEOUT_MS = 2_147_483_647;

/**
 * The outbox in schema `converge` of the owner's PostgreSQL database.
 *
 * No commit-order gap: `position` comes from a sequence when a row is inserted, so a transaction
 * can take a lower position and commit after a higher one. A relay never reads "positions after
 * the last one I saw"; it selects committed rows with `published_at IS NULL`, so a row that
 * commits late is simply picked up by a later claim. Several relays share the work with
 * `FOR UPDATE SKIP LOCKED`: each claims rows no other relay holds.
 *
 * Per-key order: `reserveSequence` locks the key's counter row until the producer's transaction
 * ends, so producers of one key take turns and a key's sequence order is its commit order.
 */
export class PostgresOutboxStore implements OutboxStore {
  readonly #connection: PgConnection;

  constructor(connection: PgConnection) {
    this.#connection = connection;
  }

  async reserveSequence(tx: Transaction, source: string, key: string, count: number): Promise<number> {
    const [row] = await tx.query<{ last_sequence: string }>(
      `INSERT INTO converge.outbox_sequence AS s (source, key, last_sequence) VALUES ($1, $2, $3)
       ON CONFLICT (source, key) DO UPDATE SET last_sequence = s.last_sequence + EXCLUDED.last_sequence
       RETURNING last_sequence`,
      [source, key, count],
    );
    return toNumber(row?.last_sequence) - count + 1;
  }

  async insert(
    tx: Transaction,
    messages: readonly { readonly envelope: Envelope; readonly body: string }[],
  ): Promise<void> {
    if (messages.length === 0) return;
    // One statement for all rows (arrays, so the statement's text and parameter count stay the
    // same for any batch size). ORDER BY n makes positions follow the batch order: PostgreSQL
    // evaluates the volatile nextval() default after the sort.
    await tx.query(
      `WITH inserted AS (
         INSERT INTO converge.outbox (message_id, source, type, key, sequence, body)
         SELECT id, source, type, key, sequence, body
         FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::bigint[], $6::text[])
           WITH ORDINALITY AS m(id, source, type, key, sequence, body, n)
         ORDER BY n
         RETURNING 1
       )
       SELECT pg_notify($7, '')`,
      [
        messages.map((m) => m.envelope.id),
        messages.map((m) => m.envelope.source),
        messages.map((m) => m.envelope.type),
        messages.map((m) => m.envelope.subject),
        messages.map((m) => m.envelope.sequence),
        messages.map((m) => m.body),
        OUTBOX_CHANNEL,
      ],
    );
  }

  /**
   * Opens a transaction, sets `idle_in_transaction_session_timeout` to `leaseMs` for it (a relay
   * that hangs longer loses its connection and thereby its claim), and locks up to `limit`
   * unpublished rows that no other relay holds.
   */
  async claim(options: {
    readonly relayId: string;
    readonly limit: number;
    readonly leaseMs: number;
  }): Promise<OutboxClaim | null> {
    const timeoutMs = Math.min(MAX_TIMEOUT_MS, Math.max(1, Math.ceil(options.leaseMs)));
    const session = await this.#connection.checkout();
    try {
      // timeoutMs is an integer we computed, so it can be spliced into the text safely.
      await session.query(`BEGIN; SET LOCAL idle_in_transaction_session_timeout = ${timeoutMs}`);
      const { rows } = await session.query<{ position: string; body: string }>(
        `SELECT position, body FROM converge.outbox
         WHERE published_at IS NULL
         ORDER BY position
         LIMIT $1
         FOR UPDATE SKIP LOCKED`,
        [Math.max(1, Math.trunc(options.limit))],
      );
      if (rows.length === 0) {
        await session.rollbackAndRelease();
        return null;
      }
      const claimed: OutboxRow[] = rows.map((row) => ({
        position: toNumber(row.position),
        body: row.body,
        envelope: JSON.parse(row.body) as Envelope,
      }));
      return new PostgresOutboxClaim(session, options.relayId, claimed);
    } catch (error) {
      session.release(error instanceof Error ? error : true);
      throw error;
    }
  }

  async releaseRelay(_relayId: string): Promise<void> {
    // Row locks end with each claim's transaction; nothing outlives it.
  }

  async prunePublished(before: Date, limit: number): Promise<number> {
    const { rowCount } = await this.#connection.query(
      `DELETE FROM converge.outbox WHERE position IN (
         SELECT position FROM converge.outbox
         WHERE published_at IS NOT NULL AND published_at < $1
         ORDER BY published_at
         LIMIT $2)`,
      [before, Math.max(0, Math.trunc(limit))],
    );
    return rowCount;
  }

  async status(): Promise<OutboxStatus> {
    const { rows } = await this.#connection.query<{
      backlog: string;
      oldest: Date | null;
      published: string;
    }>(
      `SELECT count(*) FILTER (WHERE published_at IS NULL) AS backlog,
              min(created_at) FILTER (WHERE published_at IS NULL) AS oldest,
              count(*) FILTER (WHERE published_at IS NOT NULL) AS published
       FROM converge.outbox`,
    );
    const row = rows[0];
    return {
      backlog: toNumber(row?.backlog),
      oldestUnpublishedAt: row?.oldest ?? null,
      publishedRetained: toNumber(row?.published),
    };
  }

  async recordHeartbeat(heartbeat: RelayHeartbeat): Promise<void> {
    await this.#connection.query(
      `INSERT INTO converge.relay AS r (relay_id, host, pid, heartbeat_interval_ms, started_at, heartbeat_at,
         published, last_published_at, consecutive_failures, last_error, last_error_at, stopped_at)
       VALUES ($1, $2, $3, $4, $5, now(), $6, $7, $8, $9, $10, CASE WHEN $11::boolean THEN now() END)
       ON CONFLICT (relay_id) DO UPDATE SET
         host = EXCLUDED.host, pid = EXCLUDED.pid, heartbeat_interval_ms = EXCLUDED.heartbeat_interval_ms,
         started_at = EXCLUDED.started_at, heartbeat_at = EXCLUDED.heartbeat_at, published = EXCLUDED.published,
         last_published_at = coalesce(EXCLUDED.last_published_at, r.last_published_at),
         consecutive_failures = EXCLUDED.consecutive_failures,
         last_error = coalesce(EXCLUDED.last_error, r.last_error),
         last_error_at = coalesce(EXCLUDED.last_error_at, r.last_error_at),
         stopped_at = EXCLUDED.stopped_at`,
      [
        heartbeat.relayId,
        heartbeat.host,
        heartbeat.pid,
        Math.trunc(heartbeat.heartbeatIntervalMs),
        heartbeat.startedAt,
        heartbeat.published,
        heartbeat.lastPublishedAt,
        heartbeat.consecutiveFailures,
        heartbeat.lastError,
        heartbeat.lastErrorAt,
        heartbeat.stopped,
      ],
    );
  }

  /** Relays share the outbox here (`FOR UPDATE SKIP LOCKED`), so there is no lease holder to name. */
  async listRelays(): Promise<RelayList> {
    const { rows } = await this.#connection.query<RelayRow>(
      'SELECT *, now() AS observed_at FROM converge.relay ORDER BY heartbeat_at DESC, relay_id',
    );
    return {
      // With no rows there is no age to measure, so this process's clock does.
      observedAt: rows[0]?.observed_at ?? new Date(),
      relays: rows.map(
        (row): RelayRecord => ({
          relayId: row.relay_id,
          host: row.host,
          pid: row.pid,
          heartbeatIntervalMs: row.heartbeat_interval_ms,
          startedAt: row.started_at,
          heartbeatAt: row.heartbeat_at,
          published: toNumber(row.published),
          lastPublishedAt: row.last_published_at,
          consecutiveFailures: row.consecutive_failures,
          lastError: row.last_error,
          lastErrorAt: row.last_error_at,
          stoppedAt: row.stopped_at,
        }),
      ),
      leaseHolder: null,
    };
  }

  async pruneRelays(before: Date): Promise<number> {
    const { rowCount } = await this.#connection.query('DELETE FROM converge.relay WHERE heartbeat_at < $1', [
      before,
    ]);
    return rowCount;
  }
}
