import { creationAuditDetail, parseStoredHeaders } from '../../core/dead-letter-record.js';
import type {
  DeadLetter,
  DeadLetterAuditEntry,
  DeadLetterBodyReplacement,
  DeadLetterReason,
  DeadLetterStatus,
  InboxStore,
  KeyState,
  ParkedMessage,
  PoisonPolicy,
  Receipt,
  ReceiptOutcome,
  StoredDeadLetter,
} from '../../ports/inbox-store.js';
import type { Transaction } from '../../ports/storage.js';
import type { SqliteConnection } from './sqlite-storage.js';

interface ParkedRow {
  message_id: string;
  source: string;
  key: string;
  sequence: number;
  type: string;
  body: string;
  attempts: number;
  next_attempt_at: number | null;
  last_error: string | null;
  first_failed_at: number | null;
}

const PARKED_COLUMNS =
  'p.message_id, p.source, p.key, p.sequence, p.type, p.body, p.attempts, p.next_attempt_at, p.last_error, p.first_failed_at';

function toParked(row: ParkedRow): ParkedMessage {
  return {
    messageId: row.message_id,
    source: row.source,
    key: row.key,
    sequence: row.sequence,
    type: row.type,
    body: row.body,
    attempts: row.attempts,
    nextAttemptAt: row.next_attempt_at === null ? null : new Date(row.next_attempt_at),
    lastError: row.last_error,
    firstFailedAt: row.first_failed_at === null ? null : new Date(row.first_failed_at),
  };
}

const time = (date: Date | null): number | null => (date === null ? null : date.getTime());

/**
 * A consumer's inbox in a SQLite file. The write transaction (`BEGIN IMMEDIATE`) already excludes
 * every other writer, so `lockKey` needs no row lock of its own.
 */
export class SqliteInboxStore implements InboxStore {
  readonly #connection: SqliteConnection;

  constructor(connection: SqliteConnection) {
    this.#connection = connection;
  }

  async lockKey(tx: Transaction, consumer: string, source: string, key: string): Promise<KeyState> {
    const [row] = await tx.query<{ last_sequence: number; blocked_by: string | null }>(
      'SELECT last_sequence, blocked_by FROM converge_inbox_key WHERE consumer = ? AND source = ? AND key = ?',
      [consumer, source, key],
    );
    return row === undefined
      ? { lastSequence: 0, blockedBy: null }
      : { lastSequence: row.last_sequence, blockedBy: row.blocked_by };
  }

  async setKey(
    tx: Transaction,
    consumer: string,
    source: string,
    key: string,
    state: KeyState,
  ): Promise<void> {
    await tx.execute(
      `INSERT INTO converge_inbox_key (consumer, source, key, last_sequence, blocked_by) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (consumer, source, key) DO UPDATE SET last_sequence = excluded.last_sequence, blocked_by = excluded.blocked_by`,
      [consumer, source, key, state.lastSequence, state.blockedBy],
    );
  }

  async recordReceipt(
    tx: Transaction,
    consumer: string,
    receipt: Receipt,
  ): Promise<'recorded' | 'duplicate'> {
    const changed = await tx.execute(
      `INSERT INTO converge_inbox_receipt (consumer, message_id, source, key, sequence, outcome, received_at, payload_hash)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
      [
        consumer,
        receipt.messageId,
        receipt.source,
        receipt.key,
        receipt.sequence,
        receipt.outcome,
        Date.now(),
        receipt.payloadHash,
      ],
    );
    return changed === 1 ? 'recorded' : 'duplicate';
  }

  async findReceipt(tx: Transaction, consumer: string, messageId: string): Promise<Receipt | null> {
    const [row] = await tx.query<{
      source: string;
      key: string;
      sequence: number;
      outcome: ReceiptOutcome;
      payload_hash: string | null;
    }>(
      'SELECT source, key, sequence, outcome, payload_hash FROM converge_inbox_receipt WHERE consumer = ? AND message_id = ?',
      [consumer, messageId],
    );
    return row === undefined
      ? null
      : {
          messageId,
          source: row.source,
          key: row.key,
          sequence: row.sequence,
          outcome: row.outcome,
          payloadHash: row.payload_hash,
        };
  }

  async hasReceipt(tx: Transaction, consumer: string, messageId: string): Promise<boolean> {
    const rows = await tx.query(
      'SELECT 1 FROM converge_inbox_receipt WHERE consumer = ? AND message_id = ?',
      [consumer, messageId],
    );
    return rows.length > 0;
  }

  async receiptOutcome(tx: Transaction, consumer: string, messageId: string): Promise<ReceiptOutcome | null> {
    const [row] = await tx.query<{ outcome: ReceiptOutcome }>(
      'SELECT outcome FROM converge_inbox_receipt WHERE consumer = ? AND message_id = ?',
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
    await tx.execute('UPDATE converge_inbox_receipt SET outcome = ? WHERE consumer = ? AND message_id = ?', [
      outcome,
      consumer,
      messageId,
    ]);
  }

  async park(tx: Transaction, consumer: string, m: ParkedMessage): Promise<'parked' | 'duplicate'> {
    const changed = await tx.execute(
      `INSERT INTO converge_inbox_parked
         (consumer, message_id, source, key, sequence, type, body, attempts, next_attempt_at, last_error, first_failed_at, parked_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
      [
        consumer,
        m.messageId,
        m.source,
        m.key,
        m.sequence,
        m.type,
        m.body,
        m.attempts,
        time(m.nextAttemptAt),
        m.lastError,
        time(m.firstFailedAt),
        Date.now(),
      ],
    );
    return changed === 1 ? 'parked' : 'duplicate';
  }

  async updateParked(
    tx: Transaction,
    consumer: string,
    messageId: string,
    update: {
      attempts: number;
      nextAttemptAt: Date | null;
      lastError: string | null;
      firstFailedAt: Date | null;
    },
  ): Promise<void> {
    await tx.execute(
      `UPDATE converge_inbox_parked SET attempts = ?, next_attempt_at = ?, last_error = ?, first_failed_at = ?
       WHERE consumer = ? AND message_id = ?`,
      [
        update.attempts,
        time(update.nextAttemptAt),
        update.lastError,
        time(update.firstFailedAt),
        consumer,
        messageId,
      ],
    );
  }

  async hasParked(tx: Transaction, consumer: string): Promise<boolean> {
    const [row] = await tx.query<{ any: number }>(
      'SELECT EXISTS (SELECT 1 FROM converge_inbox_parked WHERE consumer = ?) AS any',
      [consumer],
    );
    return row?.any === 1;
  }

  async findParked(
    tx: Transaction,
    consumer: string,
    source: string,
    key: string,
    sequence: number,
  ): Promise<ParkedMessage | null> {
    const [row] = await tx.query<ParkedRow>(
      `SELECT ${PARKED_COLUMNS} FROM converge_inbox_parked p
       WHERE p.consumer = ? AND p.source = ? AND p.key = ? AND p.sequence = ? ORDER BY p.parked_at LIMIT 1`,
      [consumer, source, key, sequence],
    );
    return row === undefined ? null : toParked(row);
  }

  async deleteParked(tx: Transaction, consumer: string, messageId: string): Promise<void> {
    await tx.execute('DELETE FROM converge_inbox_parked WHERE consumer = ? AND message_id = ?', [
      consumer,
      messageId,
    ]);
  }

  dueParked(consumer: string, now: Date, limit: number): Promise<ParkedMessage[]> {
    return this.#connection.use((statements) =>
      statements
        .all<ParkedRow>(
          `SELECT ${PARKED_COLUMNS} FROM converge_inbox_parked p
           LEFT JOIN converge_inbox_key k ON k.consumer = p.consumer AND k.source = p.source AND k.key = p.key
           WHERE p.consumer = ? AND p.sequence = coalesce(k.last_sequence, 0) + 1 AND k.blocked_by IS NULL
             AND (p.next_attempt_at IS NULL OR p.next_attempt_at <= ?)
           ORDER BY p.parked_at LIMIT ?`,
          [consumer, now.getTime(), limit],
        )
        .map(toParked),
    );
  }

  async addDeadLetter(tx: Transaction, d: DeadLetter): Promise<void> {
    const [letter] = await tx.query<{ id: number }>(
      `INSERT INTO converge_dead_letter (consumer, message_id, source, type, key, sequence, reason, error_class, error_message,
         attempts, policy, body, first_failed_at, last_failed_at, fingerprint, destination, headers, body_sha256,
         body_bytes, body_truncated)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
      [
        d.consumer,
        d.messageId,
        d.source,
        d.type,
        d.key,
        d.sequence,
        d.reason,
        d.errorClass,
        d.errorMessage,
        d.attempts,
        d.policy,
        d.body,
        d.firstFailedAt.getTime(),
        d.lastFailedAt.getTime(),
        d.fingerprint,
        d.destination,
        JSON.stringify(d.headers),
        d.bodySha256,
        d.bodyBytes,
        d.bodyTruncated ? 1 : 0,
      ],
    );
    await tx.execute(
      "INSERT INTO converge_dead_letter_audit (dead_letter_id, at, actor, action, detail) VALUES (?, ?, ?, 'created', ?)",
      [letter?.id, d.lastFailedAt.getTime(), `converge:${d.consumer}`, creationAuditDetail(d)],
    );
  }

  async noteRepeatedUnkeyedDeadLetter(tx: Transaction, d: DeadLetter): Promise<boolean> {
    const [letter] = await tx.query<{ id: number }>(
      `UPDATE converge_dead_letter SET last_failed_at = ?
        WHERE id = (SELECT id FROM converge_dead_letter
                     WHERE consumer = ? AND key IS NULL AND reason = ? AND body_sha256 = ? ORDER BY id LIMIT 1)
        RETURNING id`,
      [d.lastFailedAt.getTime(), d.consumer, d.reason, d.bodySha256],
    );
    if (letter === undefined) return false;
    await tx.execute(
      "INSERT INTO converge_dead_letter_audit (dead_letter_id, at, actor, action, detail) VALUES (?, ?, ?, 'delivered-again', ?)",
      [letter.id, d.lastFailedAt.getTime(), `converge:${d.consumer}`, REPEAT_DETAIL],
    );
    return true;
  }

  deadLetterAudit(id: number): Promise<DeadLetterAuditEntry[]> {
    return this.#connection.use((statements) =>
      statements
        .all<{ at: number; actor: string; action: string; detail: string }>(
          'SELECT at, actor, action, detail FROM converge_dead_letter_audit WHERE dead_letter_id = ? ORDER BY id',
          [id],
        )
        .map((row) => ({ at: new Date(row.at), actor: row.actor, action: row.action, detail: row.detail })),
    );
  }

  listDeadLetters(consumer?: string): Promise<StoredDeadLetter[]> {
    return this.#deadLetters('WHERE (? IS NULL OR consumer = ?) ORDER BY id', [
      consumer ?? null,
      consumer ?? null,
    ]);
  }

  async getDeadLetter(id: number): Promise<StoredDeadLetter | null> {
    const [letter] = await this.#deadLetters('WHERE id = ?', [id]);
    return letter ?? null;
  }

  openDeadLetters(
    consumer: string,
    reasons: readonly DeadLetterReason[],
    maxPerMessage: number,
    limit: number,
  ): Promise<StoredDeadLetter[]> {
    return this.#deadLetters(
      `AS d WHERE consumer = ? AND status = 'open' AND reason IN (SELECT value FROM json_each(?))
         AND (SELECT count(*) FROM converge_dead_letter e WHERE e.consumer = d.consumer AND e.message_id = d.message_id) <= ?
       ORDER BY id LIMIT ?`,
      [consumer, JSON.stringify(reasons), maxPerMessage, Math.max(0, Math.trunc(limit))],
    );
  }

  replayingDeadLetters(consumer: string, limit: number): Promise<StoredDeadLetter[]> {
    return this.#deadLetters("WHERE consumer = ? AND status = 'replaying' ORDER BY id LIMIT ?", [
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
    const changed = await tx.execute(
      'UPDATE converge_dead_letter SET status = ? WHERE id = ? AND status IN (SELECT value FROM json_each(?))',
      [to, id, JSON.stringify(from)],
    );
    if (changed === 0) return false;
    await tx.execute(
      'INSERT INTO converge_dead_letter_audit (dead_letter_id, at, actor, action, detail) VALUES (?, ?, ?, ?, ?)',
      [id, Date.now(), audit.actor, audit.action, audit.detail],
    );
    return true;
  }

  async replaceDeadLetterBody(
    tx: Transaction,
    id: number,
    expectedSha256: string,
    replacement: DeadLetterBodyReplacement,
    audit: { readonly actor: string; readonly action: string; readonly detail: string },
  ): Promise<boolean> {
    const changed = await tx.execute(
      `UPDATE converge_dead_letter SET body = ?, body_sha256 = ?, body_bytes = ?, body_truncated = 0
       WHERE id = ? AND status = 'open' AND body_sha256 = ?`,
      [replacement.body, replacement.bodySha256, replacement.bodyBytes, id, expectedSha256],
    );
    if (changed === 0) return false;
    await tx.execute(
      'INSERT INTO converge_dead_letter_audit (dead_letter_id, at, actor, action, detail) VALUES (?, ?, ?, ?, ?)',
      [id, Date.now(), audit.actor, audit.action, audit.detail],
    );
    return true;
  }

  #deadLetters(where: string, params: readonly unknown[]): Promise<StoredDeadLetter[]> {
    return this.#connection.use((statements) =>
      statements
        .all<Record<string, unknown>>(`SELECT * FROM converge_dead_letter ${where}`, params)
        .map((row) => ({
          id: row.id as number,
          consumer: row.consumer as string,
          messageId: row.message_id as string | null,
          source: row.source as string | null,
          type: row.type as string | null,
          key: row.key as string | null,
          sequence: row.sequence as number | null,
          reason: row.reason as DeadLetterReason,
          errorClass: row.error_class as string,
          errorMessage: row.error_message as string,
          fingerprint: row.fingerprint as string,
          attempts: row.attempts as number,
          policy: row.policy as PoisonPolicy,
          destination: row.destination as string | null,
          headers: parseStoredHeaders(row.headers as string),
          body: row.body as string,
          bodySha256: row.body_sha256 as string,
          bodyBytes: row.body_bytes as number,
          bodyTruncated: row.body_truncated === 1,
          status: row.status as DeadLetterStatus,
          firstFailedAt: new Date(row.first_failed_at as number),
          lastFailedAt: new Date(row.last_failed_at as number),
        })),
    );
  }

  counts(consumer: string): Promise<{ receipts: number; parked: number; deadLetters: number }> {
    return this.#connection.use((statements) => {
      const count = (table: string) =>
        statements.get<{ n: number }>(`SELECT count(*) AS n FROM ${table} WHERE consumer = ?`, [consumer])
          ?.n ?? 0;
      return {
        receipts: count('converge_inbox_receipt'),
        parked: count('converge_inbox_parked'),
        deadLetters: count('converge_dead_letter'),
      };
    });
  }
}

/** The audit detail of an unkeyed dead letter's repeat delivery. */
const REPEAT_DETAIL = 'the same body was delivered again (a redelivery); kept as this one dead letter';
