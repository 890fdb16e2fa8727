import { creationAuditDetail } from '../../core/dead-letter-record.js';
import type {
  DeadLetter,
  DeadLetterAuditEntry,
  DeadLetterBodyReplacement,
  DeadLetterReason,
  DeadLetterStatus,
  InboxStore,
  KeyState,
  ParkedMessage,
  Receipt,
  ReceiptOutcome,
  StoredDeadLetter,
} from '../../ports/inbox-store.js';
import type { Transaction } from '../../ports/storage.js';
import type { PgConnection } from './pg-connection.js';
import { toNumber } from './pg-connection.js';
import {
  DEAD_LETTER_COLUMNS,
  type DeadLetterRow,
  PARKED_COLUMNS,
  type ParkedRow,
  toDeadLetter,
  toParked,
} from './postgres-inbox-rows.js';

/**
 * PostgreSQL `text` cannot hold U+0000. A dead letter records whatever a faulty producer sent and
 * must never fail to insert, so NULs become U+FFFD there. (A body containing a raw NUL is not JSON
 * anyway, so the replacement cannot change how a replay of it ends.)
 */
function storable<T extends string | null>(value: T): T {
  return (value === null ? null : value.replaceAll('\u0000', '\uFFFD')) as T;
}

/**
 * A consumer's inbox in schema `converge`: key positions (`inbox_key`), receipts, parked
 * messages and dead letters. Methods taking `tx` run inside the consumer's transaction.
 *
 * Per-key exclusion: `lockKey` takes the key row's lock (`SELECT … FOR UPDATE`) and holds it until
 * the consumer's transaction ends, so two deliveries of one key, in any number of processes, are
 * applied one after the other, each seeing the position the previous one committed.
 */
export class PostgresInboxStore implements InboxStore {
  readonly #connection: PgConnection;

  constructor(connection: PgConnection) {
    this.#connection = connection;
  }

  async lockKey(tx: Transaction, consumer: string, source: string, key: string): Promise<KeyState> {
    const select = `SELECT last_sequence, blocked_by FROM converge.inbox_key
                    WHERE consumer = $1 AND source = $2 AND key = $3 FOR UPDATE`;
    const params = [consumer, source, key];
    let [row] = await tx.query<{ last_sequence: string; blocked_by: string | null }>(select, params);
    if (row === undefined) {
      // A concurrent first delivery of the same new key makes this INSERT wait for the other
      // transaction and then do nothing; the SELECT below then waits for its row lock.
      await tx.execute(
        `INSERT INTO converge.inbox_key (consumer, source, key, last_sequence) VALUES ($1, $2, $3, 0)
         ON CONFLICT DO NOTHING`,
        params,
      );
      [row] = await tx.query<{ last_sequence: string; blocked_by: string | null }>(select, params);
    }
    return { lastSequence: toNumber(row?.last_sequence), blockedBy: row?.blocked_by ?? null };
  }

  async setKey(
    tx: Transaction,
    consumer: string,
    source: string,
    key: string,
    state: KeyState,
  ): Promise<void> {
    await tx.execute(
      `INSERT INTO converge.inbox_key AS k (consumer, source, key, last_sequence, blocked_by) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (consumer, source, key) DO UPDATE SET last_sequence = EXCLUDED.last_sequence, blocked_by = EXCLUDED.blocked_by`,
      [consumer, source, key, state.lastSequence, state.blockedBy],
    );
  }

  async recordReceipt(
    tx: Transaction,
    consumer: string,
    receipt: Receipt,
  ): Promise<'recorded' | 'duplicate'> {
    const inserted = await tx.execute(
      `INSERT INTO converge.inbox_receipt (consumer, message_id, source, key, sequence, outcome, payload_hash)
       VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING`,
      [
        consumer,
        receipt.messageId,
        receipt.source,
        receipt.key,
        receipt.sequence,
        receipt.outcome,
        receipt.payloadHash,
      ],
    );
    return inserted === 0 ? 'duplicate' : 'recorded';
  }

  async findReceipt(tx: Transaction, consumer: string, messageId: string): Promise<Receipt | null> {
    const [row] = await tx.query<{
      source: string;
      key: string;
      sequence: string;
      outcome: ReceiptOutcome;
      payload_hash: string | null;
    }>(
      `SELECT source, key, sequence, outcome, payload_hash FROM converge.inbox_receipt
       WHERE consumer = $1 AND message_id = $2`,
      [consumer, messageId],
    );
    return row === undefined
      ? null
      : {
          messageId,
          source: row.source,
          key: row.key,
          sequence: toNumber(row.sequence),
          outcome: row.outcome,
          payloadHash: row.payload_hash,
        };
  }

  async hasReceipt(tx: Transaction, consumer: string, messageId: string): Promise<boolean> {
    const rows = await tx.query(
      'SELECT 1 FROM converge.inbox_receipt WHERE consumer = $1 AND message_id = $2',
      [consumer, messageId],
    );
    return rows.length > 0;
  }

  async receiptOutcome(tx: Transaction, consumer: string, messageId: string): Promise<ReceiptOutcome | null> {
    const [row] = await tx.query<{ outcome: ReceiptOutcome }>(
      'SELECT outcome FROM converge.inbox_receipt WHERE consumer = $1 AND message_id = $2',
      [consumer, messageId],
    );
    return row?.outcome ?? null;
  }

  async setReceiptOutcome(
    tx: Transaction,
    consumer: string,
    messageId: string,
    outcome: ReceiptOutcome,
  ): Promise<void> {
    await tx.execute(
      'UPDATE converge.inbox_receipt SET outcome = $3 WHERE consumer = $1 AND message_id = $2',
      [consumer, messageId, outcome],
    );
  }

  async park(tx: Transaction, consumer: string, message: ParkedMessage): Promise<'parked' | 'duplicate'> {
    const inserted = await tx.execute(
      `INSERT INTO converge.inbox_parked (consumer, ${PARKED_COLUMNS})
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT DO NOTHING`,
      [
        consumer,
        message.messageId,
        message.source,
        message.key,
        message.sequence,
        message.type,
        message.body,
        message.attempts,
        message.nextAttemptAt,
        message.lastError,
        message.firstFailedAt,
      ],
    );
    return inserted === 0 ? 'duplicate' : 'parked';
  }

  async updateParked(
    tx: Transaction,
    consumer: string,
    messageId: string,
    update: {
      readonly attempts: number;
      readonly nextAttemptAt: Date | null;
      readonly lastError: string | null;
      readonly firstFailedAt: Date | null;
    },
  ): Promise<void> {
    await tx.execute(
      `UPDATE converge.inbox_parked SET attempts = $3, next_attempt_at = $4, last_error = $5, first_failed_at = $6
       WHERE consumer = $1 AND message_id = $2`,
      [consumer, messageId, update.attempts, update.nextAttemptAt, update.lastError, update.firstFailedAt],
    );
  }

  async hasParked(tx: Transaction, consumer: string): Promise<boolean> {
    const [row] = await tx.query<{ any: boolean }>(
      'SELECT EXISTS (SELECT 1 FROM converge.inbox_parked WHERE consumer = $1) AS any',
      [consumer],
    );
    return row?.any === true;
  }

  async findParked(
    tx: Transaction,
    consumer: string,
    source: string,
    key: string,
    sequence: number,
  ): Promise<ParkedMessage | null> {
    const [row] = await tx.query<ParkedRow>(
      `SELECT ${PARKED_COLUMNS} FROM converge.inbox_parked
       WHERE consumer = $1 AND source = $2 AND key = $3 AND sequence = $4
       ORDER BY parked_at, message_id LIMIT 1`,
      [consumer, source, key, sequence],
    );
    return row === undefined ? null : toParked(row);
  }

  async deleteParked(tx: Transaction, consumer: string, messageId: string): Promise<void> {
    await tx.execute('DELETE FROM converge.inbox_parked WHERE consumer = $1 AND message_id = $2', [
      consumer,
      messageId,
    ]);
  }

  async dueParked(consumer: string, now: Date, limit: number): Promise<ParkedMessage[]> {
    const { rows } = await this.#connection.query<ParkedRow>(
      `SELECT ${PARKED_COLUMNS.split(', ')
        .map((column) => `p.${column}`)
        .join(', ')}
       FROM converge.inbox_parked p
       JOIN converge.inbox_key k ON k.consumer = p.consumer AND k.source = p.source AND k.key = p.key
       WHERE p.consumer = $1
         AND p.sequence = k.last_sequence + 1
         AND k.blocked_by IS NULL
         AND (p.next_attempt_at IS NULL OR p.next_attempt_at <= $2)
       ORDER BY p.parked_at, p.message_id
       LIMIT $3`,
      [consumer, now, Math.max(0, Math.trunc(limit))],
    );
    return rows.map(toParked);
  }

  async noteRepeatedUnkeyedDeadLetter(tx: Transaction, deadLetter: DeadLetter): Promise<boolean> {
    const rows = await tx.query(
      `WITH letter AS (
         UPDATE converge.dead_letter SET last_failed_at = $1
          WHERE id = (SELECT id FROM converge.dead_letter
                       WHERE consumer = $2 AND key IS NULL AND reason = $3 AND body_sha256 = $4 ORDER BY id LIMIT 1)
          RETURNING id
       )
       INSERT INTO converge.dead_letter_audit (dead_letter_id, actor, action, detail)
       SELECT id, $5, 'delivered-again', $6 FROM letter RETURNING dead_letter_id`,
      [
        deadLetter.lastFailedAt,
        storable(deadLetter.consumer),
        deadLetter.reason,
        deadLetter.bodySha256,
        storable(`converge:${deadLetter.consumer}`),
        'the same body was delivered again (a redelivery); kept as this one dead letter',
      ],
    );
    return rows.length > 0;
  }

  async addDeadLetter(tx: Transaction, deadLetter: DeadLetter): Promise<void> {
    await tx.execute(
      `WITH letter AS (
         INSERT INTO converge.dead_letter (consumer, message_id, source, type, key, sequence, reason, error_class,
           error_message, attempts, policy, body, first_failed_at, last_failed_at, fingerprint, destination, headers,
           body_sha256, body_bytes, body_truncated)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20)
         RETURNING id
       )
       INSERT INTO converge.dead_letter_audit (dead_letter_id, actor, action, detail)
       SELECT id, $21, 'created', $22 FROM letter`,
      [
        storable(deadLetter.consumer),
        storable(deadLetter.messageId),
        storable(deadLetter.source),
        storable(deadLetter.type),
        storable(deadLetter.key),
        deadLetter.sequence,
        deadLetter.reason,
        storable(deadLetter.errorClass),
        storable(deadLetter.errorMessage),
        deadLetter.attempts,
        deadLetter.policy,
        storable(deadLetter.body),
        deadLetter.firstFailedAt,
        deadLetter.lastFailedAt,
        deadLetter.fingerprint,
        storable(deadLetter.destination),
        storable(JSON.stringify(deadLetter.headers)),
        deadLetter.bodySha256,
        deadLetter.bodyBytes,
        deadLetter.bodyTruncated,
        storable(`converge:${deadLetter.consumer}`),
        storable(creationAuditDetail(deadLetter)),
      ],
    );
  }

  async deadLetterAudit(id: number): Promise<DeadLetterAuditEntry[]> {
    const { rows } = await this.#connection.query<{
      at: Date;
      actor: string;
      action: string;
      detail: string;
    }>(
      'SELECT at, actor, action, detail FROM converge.dead_letter_audit WHERE dead_letter_id = $1 ORDER BY id',
      [id],
    );
    return rows.map((row) => ({ at: row.at, actor: row.actor, action: row.action, detail: row.detail }));
  }

  async listDeadLetters(consumer?: string): Promise<StoredDeadLetter[]> {
    return this.#deadLetters('WHERE $1::text IS NULL OR consumer = $1 ORDER BY id', [consumer ?? null]);
  }

  async getDeadLetter(id: number): Promise<StoredDeadLetter | null> {
    const [letter] = await this.#deadLetters('WHERE id = $1', [id]);
    return letter ?? null;
  }

  openDeadLetters(
    consumer: string,
    reasons: readonly DeadLetterReason[],
    maxPerMessage: number,
    limit: number,
  ): Promise<StoredDeadLetter[]> {
    return this.#deadLetters(
      `AS d WHERE consumer = $1 AND status = 'open' AND reason = ANY($2::text[])
         AND (SELECT count(*) FROM converge.dead_letter e WHERE e.consumer = d.consumer AND e.message_id = d.message_id) <= $3
       ORDER BY id LIMIT $4`,
      [consumer, [...reasons], maxPerMessage, Math.max(0, Math.trunc(limit))],
    );
  }

  replayingDeadLetters(consumer: string, limit: number): Promise<StoredDeadLetter[]> {
    return this.#deadLetters("WHERE consumer = $1 AND status = 'replaying' ORDER BY id LIMIT $2", [
      consumer,
      Math.max(0, Math.trunc(limit)),
    ]);
  }

  async transitionDeadLetter(
    tx: Transaction,
    id: number,
    from: readonly DeadLetterStatus[],
    to: DeadLetterStatus,
    audit: { readonly actor: string; readonly action: string; readonly detail: string },
  ): Promise<boolean> {
    const rows = await tx.query(
      `WITH moved AS (
         UPDATE converge.dead_letter SET status = $3 WHERE id = $1 AND status = ANY($2::text[]) RETURNING id
       )
       INSERT INTO converge.dead_letter_audit (dead_letter_id, actor, action, detail)
       SELECT id, $4, $5, $6 FROM moved RETURNING 1`,
      [id, [...from], to, storable(audit.actor), storable(audit.action), storable(audit.detail)],
    );
    return rows.length > 0;
  }

  async replaceDeadLetterBody(
    tx: Transaction,
    id: number,
    expectedSha256: string,
    replacement: DeadLetterBodyReplacement,
    audit: { readonly actor: string; readonly action: string; readonly detail: string },
  ): Promise<boolean> {
    const rows = await tx.query(
      `WITH edited AS (
         UPDATE converge.dead_letter SET body = $3, body_sha256 = $4, body_bytes = $5, body_truncated = false
         WHERE id = $1 AND status = 'open' AND body_sha256 = $2 RETURNING id
       )
       INSERT INTO converge.dead_letter_audit (dead_letter_id, actor, action, detail)
       SELECT id, $6, $7, $8 FROM edited RETURNING 1`,
      [
        id,
        expectedSha256,
        storable(replacement.body),
        replacement.bodySha256,
        replacement.bodyBytes,
        storable(audit.actor),
        storable(audit.action),
        storable(audit.detail),
      ],
    );
    return rows.length > 0;
  }

  async #deadLetters(where: string, params: readonly unknown[]): Promise<StoredDeadLetter[]> {
    const { rows } = await this.#connection.query<DeadLetterRow>(
      `SELECT ${DEAD_LETTER_COLUMNS} FROM converge.dead_letter ${where}`,
      [...params],
    );
    return rows.map(toDeadLetter);
  }

  async counts(
    consumer: string,
  ): Promise<{ readonly receipts: number; readonly parked: number; readonly deadLetters: number }> {
    const { rows } = await this.#connection.query<{ receipts: string; parked: string; dead_letters: string }>(
      `SELECT (SELECT count(*) FROM converge.inbox_receipt WHERE consumer = $1) AS receipts,
              (SELECT count(*) FROM converge.inbox_parked WHERE consumer = $1) AS parked,
              (SELECT count(*) FROM converge.dead_letter WHERE consumer = $1) AS dead_letters`,
      [consumer],
    );
    const row = rows[0];
    return {
      receipts: toNumber(row?.receipts),
      parked: toNumber(row?.parked),
      deadLetters: toNumber(row?.dead_letters),
    };
  }
}
