import type {
  EvidenceStore,
  FailureEvidence,
  ProducedEvidence,
  ReceiptEvidence,
  SagaEvidence,
} from '../../ports/evidence-store.js';
import { sagaEvidenceOf } from '../saga-evidence.js';
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

  sagas(since: Date, limit: number): Promise<SagaEvidence[]> {
    return this.#connection.use((statements) => {
      // A database not yet migrated to sagas (schema version 5) has none to report.
      const table = statements.all(
        `SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'converge_saga'`,
        [],
      );
      if (table.length === 0) return [];
      return statements
        .all<{
          id: string;
          name: string;
          status: string;
          snapshot: string;
          needed_attention: number;
          created_at: number;
          updated_at: number;
        }>(
          `SELECT s.id, s.name, s.status, s.snapshot, s.created_at, s.updated_at,
                  EXISTS (SELECT 1 FROM converge_saga_transition t
                           WHERE t.saga_id = s.id AND t.status = 'needs-attention') AS needed_attention
             FROM converge_saga s WHERE s.created_at >= ? ORDER BY s.created_at DESC, s.id DESC LIMIT ?`,
          [since.getTime(), limit],
        )
        .map((row) =>
          sagaEvidenceOf({
            id: row.id,
            name: row.name,
            status: row.status,
            snapshot: row.snapshot,
            neededAttention: row.needed_attention === 1,
            createdAt: new Date(row.created_at),
            updatedAt: new Date(row.updated_at),
          }),
        );
    });
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
