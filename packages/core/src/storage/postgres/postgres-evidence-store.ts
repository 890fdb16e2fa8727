import type {
  EvidenceStore,
  FailureEvidence,
  ProducedEvidence,
  ReceiptEvidence,
} from '../../ports/evidence-store.js';
import type { PgConnection } from './pg-connection.js';

/** Coupling evidence from a PostgreSQL database's Converge tables (see `EvidenceStore`). */
export class PostgresEvidenceStore implements EvidenceStore {
  readonly #connection: PgConnection;

  constructor(connection: PgConnection) {
    this.#connection = connection;
  }

  async produced(since: Date, limit: number): Promise<ProducedEvidence[]> {
    const { rows } = await this.#connection.query<{
      message_id: string;
      source: string;
      type: string;
      key: string;
      created_at: Date;
      correlation_id: string | null;
      causation_id: string | null;
    }>(
      `SELECT message_id::text, source, type, key, created_at,
              body::jsonb ->> 'correlationid' AS correlation_id, body::jsonb ->> 'causationid' AS causation_id
         FROM converge.outbox WHERE created_at >= $1 ORDER BY position DESC LIMIT $2`,
      [since, limit],
    );
    return rows.map((row) => ({
      messageId: row.message_id,
      source: row.source,
      type: row.type,
      key: row.key,
      createdAt: row.created_at,
      correlationId: row.correlation_id,
      causationId: row.causation_id,
    }));
  }

  async receipts(since: Date, limit: number): Promise<ReceiptEvidence[]> {
    const { rows } = await this.#connection.query<{
      consumer: string;
      message_id: string;
      source: string;
      outcome: string;
      received_at: Date;
    }>(
      `SELECT consumer, message_id, source, outcome, received_at FROM converge.inbox_receipt
        WHERE received_at >= $1 ORDER BY received_at DESC LIMIT $2`,
      [since, limit],
    );
    return rows.map((row) => ({
      consumer: row.consumer,
      messageId: row.message_id,
      source: row.source,
      outcome: row.outcome,
      receivedAt: row.received_at,
    }));
  }

  async failures(since: Date, limit: number): Promise<FailureEvidence[]> {
    const { rows } = await this.#connection.query<{
      consumer: string;
      source: string | null;
      reason: string;
      attempts: number;
      at: Date;
    }>(
      `SELECT consumer, source, reason, attempts, last_failed_at AS at FROM converge.dead_letter WHERE last_failed_at >= $1
       UNION ALL
       SELECT consumer, source, 'RETRYING', attempts, coalesce(first_failed_at, parked_at) FROM converge.inbox_parked
        WHERE attempts > 0 AND coalesce(first_failed_at, parked_at) >= $1
       ORDER BY 5 DESC LIMIT $2`,
      [since, limit],
    );
    return rows.map((row) => ({ ...row, attempts: Number(row.attempts) }));
  }
}
