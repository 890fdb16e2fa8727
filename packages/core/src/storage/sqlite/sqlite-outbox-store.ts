import type { Envelope } from '../../core/envelope.js';
import { ConvergeError } from '../../core/errors.js';
import type {
  OutboxClaim,
  OutboxRow,
  OutboxStatus,
  OutboxStore,
  RelayHeartbeat,
  RelayList,
  RelayRecord,
} from '../../ports/outbox-store.js';
import type { Transaction } from '../../ports/storage.js';
import { expireLease, holdsLease, takeLease } from './sqlite-lease.js';
import type { SqliteConnection } from './sqlite-storage.js';

const RELAY_LEASE = 'outbox-relay';

interface Row {
  position: number;
  body: string;
}

interface RelayRow {
  relay_id: string;
  host: string | null;
  pid: number | null;
  heartbeat_interval_ms: number;
  started_at: number;
  heartbeat_at: number;
  published: number;
  last_published_at: number | null;
  consecutive_failures: number;
  last_error: string | null;
  last_error_at: number | null;
  stopped_at: number | null;
}

const toDate = (ms: number | null): Date | null => (ms === null ? null : new Date(ms));

/**
 * The outbox in a SQLite file.
 *
 * Why no commit-order gap here: SQLite has one writer at a time, so a transaction's rows are
 * numbered and committed before the next writer starts; and the relay selects
 * `published_at IS NULL`, not `position > last`, anyway. Several relays may run: one holds the
 * `outbox-relay` lease at a time, and marking checks its fencing token.
 */
export class SqliteOutboxStore implements OutboxStore {
  readonly #connection: SqliteConnection;

  constructor(connection: SqliteConnection) {
    this.#connection = connection;
  }

  async reserveSequence(tx: Transaction, source: string, key: string, count: number): Promise<number> {
    const [row] = await tx.query<{ last_sequence: number }>(
      `INSERT INTO converge_outbox_sequence (source, key, last_sequence) VALUES (?, ?, ?)
       ON CONFLICT (source, key) DO UPDATE SET last_sequence = last_sequence + excluded.last_sequence
       RETURNING last_sequence`,
      [source, key, count],
    );
    return (row?.last_sequence ?? count) - count + 1;
  }

  async insert(
    tx: Transaction,
    messages: readonly { readonly envelope: Envelope; readonly body: string }[],
  ): Promise<void> {
    const now = Date.now();
    for (const { envelope, body } of messages) {
      await tx.execute(
        `INSERT INTO converge_outbox (message_id, source, type, key, sequence, body, created_at)
         VALUES (?, ?, ?, ?, ?, ?, ?)`,
        [envelope.id, envelope.source, envelope.type, envelope.subject, envelope.sequence, body, now],
      );
    }
  }

  async claim(options: {
    readonly relayId: string;
    readonly limit: number;
    readonly leaseMs: number;
  }): Promise<OutboxClaim | null> {
    const claimed = await this.#connection.transaction((_tx, statements) => {
      const token = takeLease(statements, RELAY_LEASE, options.relayId, options.leaseMs, Date.now());
      if (token === null) return null;
      const rows = statements.all<Row>(
        'SELECT position, body FROM converge_outbox WHERE published_at IS NULL ORDER BY position LIMIT ?',
        [options.limit],
      );
      return rows.length === 0 ? null : { token, rows };
    });
    if (claimed === null) return null;
    const rows: OutboxRow[] = claimed.rows.map((row) => ({
      position: row.position,
      body: row.body,
      envelope: JSON.parse(row.body) as Envelope,
    }));
    return {
      rows,
      markPublished: () =>
        this.#connection.transaction((_tx, statements) => {
          if (!holdsLease(statements, RELAY_LEASE, options.relayId, claimed.token)) {
            throw new ConvergeError(
              'RELAY_LEASE_LOST',
              `Relay '${options.relayId}' lost the outbox lease (token ${claimed.token}) before marking ${rows.length} messages published; another relay will publish them again and consumers will deduplicate.`,
            );
          }
          statements.run(
            'UPDATE converge_outbox SET published_at = ? WHERE position IN (SELECT value FROM json_each(?))',
            [Date.now(), JSON.stringify(rows.map((row) => row.position))],
          );
        }),
      // The transport is down: let another relay (perhaps with a working transport) take over.
      release: () => this.releaseRelay(options.relayId),
    };
  }

  releaseRelay(relayId: string): Promise<void> {
    return this.#connection.transaction((_tx, statements) => {
      expireLease(statements, RELAY_LEASE, relayId);
    });
  }

  prunePublished(before: Date, limit: number): Promise<number> {
    return this.#connection.transaction((_tx, statements) =>
      statements.run(
        `DELETE FROM converge_outbox WHERE position IN (
           SELECT position FROM converge_outbox WHERE published_at IS NOT NULL AND published_at < ? LIMIT ?)`,
        [before.getTime(), limit],
      ),
    );
  }

  status(): Promise<OutboxStatus> {
    return this.#connection.use((statements) => {
      const row = statements.get<{ backlog: number; oldest: number | null; published: number }>(
        `SELECT sum(published_at IS NULL) AS backlog,
                min(CASE WHEN published_at IS NULL THEN created_at END) AS oldest,
                sum(published_at IS NOT NULL) AS published
         FROM converge_outbox`,
      );
      return {
        backlog: row?.backlog ?? 0,
        oldestUnpublishedAt: row?.oldest == null ? null : new Date(row.oldest),
        publishedRetained: row?.published ?? 0,
      };
    });
  }

  recordHeartbeat(heartbeat: RelayHeartbeat): Promise<void> {
    return this.#connection.transaction((_tx, statements) => {
      const now = Date.now();
      statements.run(
        `INSERT INTO converge_relay (relay_id, host, pid, heartbeat_interval_ms, started_at, heartbeat_at,
           published, last_published_at, consecutive_failures, last_error, last_error_at, stopped_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (relay_id) DO UPDATE SET
           host = excluded.host, pid = excluded.pid, heartbeat_interval_ms = excluded.heartbeat_interval_ms,
           started_at = excluded.started_at, heartbeat_at = excluded.heartbeat_at, published = excluded.published,
           last_published_at = coalesce(excluded.last_published_at, converge_relay.last_published_at),
           consecutive_failures = excluded.consecutive_failures,
           last_error = coalesce(excluded.last_error, converge_relay.last_error),
           last_error_at = coalesce(excluded.last_error_at, converge_relay.last_error_at),
           stopped_at = excluded.stopped_at`,
        [
          heartbeat.relayId,
          heartbeat.host,
          heartbeat.pid,
          heartbeat.heartbeatIntervalMs,
          heartbeat.startedAt.getTime(),
          now,
          heartbeat.published,
          heartbeat.lastPublishedAt?.getTime() ?? null,
          heartbeat.consecutiveFailures,
          heartbeat.lastError,
          heartbeat.lastErrorAt?.getTime() ?? null,
          heartbeat.stopped ? now : null,
        ],
      );
    });
  }

  listRelays(): Promise<RelayList> {
    return this.#connection.use((statements) => {
      const observedAt = Date.now();
      const rows = statements.all<RelayRow>(
        'SELECT * FROM converge_relay ORDER BY heartbeat_at DESC, relay_id',
      );
      const lease = statements.get<{ holder_id: string }>(
        'SELECT holder_id FROM converge_lease WHERE name = ? AND expires_at > ?',
        [RELAY_LEASE, observedAt],
      );
      return {
        observedAt: new Date(observedAt),
        relays: rows.map(
          (row): RelayRecord => ({
            relayId: row.relay_id,
            host: row.host,
            pid: row.pid,
            heartbeatIntervalMs: row.heartbeat_interval_ms,
            startedAt: new Date(row.started_at),
            heartbeatAt: new Date(row.heartbeat_at),
            published: row.published,
            lastPublishedAt: toDate(row.last_published_at),
            consecutiveFailures: row.consecutive_failures,
            lastError: row.last_error,
            lastErrorAt: toDate(row.last_error_at),
            stoppedAt: toDate(row.stopped_at),
          }),
        ),
        leaseHolder: lease?.holder_id ?? null,
      };
    });
  }

  pruneRelays(before: Date): Promise<number> {
    return this.#connection.transaction((_tx, statements) =>
      statements.run('DELETE FROM converge_relay WHERE heartbeat_at < ?', [before.getTime()]),
    );
  }
}
