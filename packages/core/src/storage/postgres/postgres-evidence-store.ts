import type {
  EvidenceStore,
  FailureEvidence,
  ProducedEvidence,
  ReceiptEvidence,
  SagaEvidence,
} from '../../ports/evidence-store.js';
import { sagaEvidenceOf } from '../saga-evidence.js';
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

  async sagas(since: Date, limit: number): Promise<SagaEvidence[]> {
    // A database not yet migrated to sagas (schema version 5) has none to report.
    const { rows: tables } = await this.#connection.query<{ present: boolean }>(
      `SELECT to_regclass('converge.saga') IS NOT NULL AS present`,
      [],
    );
    if (tables[0]?.present !== true) return [];
    const { rows } = await this.#connection.query<{
      id: string;
      name: string;
      status: string;
      snapshot: unknown;
      needed_attention: boolean;
      created_at: Date;
      updated_at: Date;
    }>(
      `SELECT s.id::text, s.name, s.status, s.snapshot, s.created_at, s.updated_at,
              EXISTS (SELECT 1 FROM converge.saga_transition t
                       WHERE t.saga_id = s.id AND t.status = 'needs-attention') AS needed_attention
         FROM converge.saga s WHERE s.created_at >= $1 ORDER BY s.created_at DESC, s.id DESC LIMIT $2`,
      [since, limit],
    );
    return rows.map((row) =>
      sagaEvidenceOf({
        id: row.id,
        name: row.name,
        status: row.status,
        snapshot: row.snapshot,
        neededAttention: row.needed_attention,
        createdAt: row.created_at,
        updatedAt: row.updated_at,
      }),
    );
  }
}
