import type {
  EvidenceStore,
  FailureEvidence,
  ProducedEvidence,
  ReceiptEvidence,
} from '../../ports/evidence-store.js';
import type { SqliteConnection } from './sqlite-storage.js';

/** Coupling evidence from a SQLite file's Converge tables (see `EvidenceStore`). */
export class SqliteEvidenceStore implements EvidenceStore {
  readonly #connection: SqliteConnection;

  constructor(connection: SqliteConnection) {
    this.#connection = connection;
  }

  produced(since: Date, limit: number): Promise<ProducedEvidence[]> {
    return this.#connection.use((statements) =>
      statements
        .all<{
          message_id: string;
          source: string;
          type: string;
          key: string;
          created_at: number;
          body: string;
        }>(
          `SELECT message_id, source, type, key, created_at, body FROM converge_outbox
            WHERE created_at >= ? ORDER BY position DESC LIMIT ?`,
          [since.getTime(), limit],
        )
        .map((row) => ({
          messageId: row.message_id,
          source: row.source,
          type: row.type,
          key: row.key,
          createdAt: new Date(row.created_at),
          ...chainOf(row.body),
        })),
    );
  }

  receipts(since: Date, limit: number): Promise<ReceiptEvidence[]> {
    return this.#connection.use((statements) =>
      statements
        .all<{ consumer: string; message_id: string; source: string; outcome: string; received_at: number }>(
          `SELECT consumer, message_id, source, outcome, received_at FROM converge_inbox_receipt
            WHERE received_at >= ? ORDER BY received_at DESC LIMIT ?`,
          [since.getTime(), limit],
        )
        .map((row) => ({
          consumer: row.consumer,
          messageId: row.message_id,
          source: row.source,
          outcome: row.outcome,
          receivedAt: new Date(row.received_at),
        })),
    );
  }

  failures(since: Date, limit: number): Promise<FailureEvidence[]> {
    return this.#connection.use((statements) =>
      statements
        .all<{ consumer: string; source: string | null; reason: string; attempts: number; at: number }>(
          `SELECT consumer, source, reason, attempts, last_failed_at AS at FROM converge_dead_letter WHERE last_failed_at >= ?
           UNION ALL
           SELECT consumer, source, 'RETRYING', attempts, coalesce(first_failed_at, parked_at) FROM converge_inbox_parked
            WHERE attempts > 0 AND coalesce(first_failed_at, parked_at) >= ?
           ORDER BY 5 DESC LIMIT ?`,
          [since.getTime(), since.getTime(), limit],
        )
        .map((row) => ({ ...row, at: new Date(row.at) })),
    );
  }
}

/** The correlation and causation ids an envelope body carries (an unreadable body has none). */
export function chainOf(body: string): { correlationId: string | null; causationId: string | null } {
  try {
    const value = JSON.parse(body) as { correlationid?: unknown; causationid?: unknown };
    return {
      correlationId: typeof value.correlationid === 'string' ? value.correlationid : null,
      causationId: typeof value.causationid === 'string' ? value.causationid : null,
    };
  } catch {
    return { correlationId: null, causationId: null };
  }
}
