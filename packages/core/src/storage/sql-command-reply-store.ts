import { ConvergeError } from '../core/errors.js';
import type {
  CommandReplyOutcome,
  CommandReplyStore,
  RecordedCommandReply,
} from '../ports/command-reply-store.js';
import type { Transaction } from '../ports/storage.js';
import type { SqlDialect } from './sql-dialect.js';

interface ReplyRow {
  request_id: string;
  idempotency_key: string;
  outcome: CommandReplyOutcome;
  reply: unknown;
  received_at: unknown;
}

const OUTCOMES: ReadonlySet<string> = new Set<CommandReplyOutcome>(['ok', 'rejected', 'failed']);
const COLUMNS = 'request_id, idempotency_key, outcome, reply, received_at';
/** Ids per `IN (…)` list: well under SQLite's and PostgreSQL's limits on bound parameters. */
const IDS_PER_QUERY = 500;

/**
 * `CommandReplyStore` over SQL, shared by the SQLite and PostgreSQL adapters (which give the
 * dialect), in table `command_reply`.
 *
 * Concurrency invariant: `record` is `INSERT … ON CONFLICT (request_id) DO NOTHING` in the caller's
 * inbox transaction. A second reply to the same command, recorded while the first one's
 * transaction is open, waits on the primary key (PostgreSQL) or for the single writer (SQLite);
 * if the first commits, the second writes nothing and returns false; if it rolls back, the second
 * is recorded. A duplicate never raises, so it never aborts the caller's PostgreSQL transaction.
 */
export class SqlCommandReplyStore implements CommandReplyStore {
  readonly #dialect: SqlDialect;
  readonly #table: string;

  constructor(dialect: SqlDialect) {
    this.#dialect = dialect;
    this.#table = dialect.table('command_reply');
  }

  /** @throws ConvergeError `COMMAND_REPLY_INVALID` when a field is missing or malformed (nothing is written). */
  async record(tx: Transaction, reply: RecordedCommandReply): Promise<boolean> {
    const text = replyText(reply);
    const p = (i: number) => this.#dialect.placeholder(i);
    const inserted = await tx.execute(
      `INSERT INTO ${this.#table} (${COLUMNS}) VALUES (${p(1)}, ${p(2)}, ${p(3)}, ${p(4)}, ${p(5)})
       ON CONFLICT (request_id) DO NOTHING`,
      [reply.requestId, reply.idempotencyKey, reply.outcome, text, this.#dialect.toTime(reply.receivedAt)],
    );
    return inserted === 1;
  }

  async forRequests(requestIds: readonly string[]): Promise<RecordedCommandReply[]> {
    const found: RecordedCommandReply[] = [];
    for (let start = 0; start < requestIds.length; start += IDS_PER_QUERY) {
      const ids = requestIds.slice(start, start + IDS_PER_QUERY);
      const list = ids.map((_id, i) => this.#dialect.placeholder(i + 1)).join(', ');
      const rows = await this.#dialect.read(
        `SELECT ${COLUMNS} FROM ${this.#table} WHERE request_id IN (${list})`,
        ids,
      );
      for (const row of rows as ReplyRow[]) found.push(this.#fromRow(row));
    }
    return found;
  }

  async finalFor(idempotencyKey: string): Promise<RecordedCommandReply | undefined> {
    const [row] = (await this.#dialect.read(
      `SELECT ${COLUMNS} FROM ${this.#table}
       WHERE idempotency_key = ${this.#dialect.placeholder(1)} AND outcome IN ('ok', 'rejected')
       ORDER BY received_at DESC, request_id DESC LIMIT 1`,
      [idempotencyKey],
    )) as ReplyRow[];
    return row === undefined ? undefined : this.#fromRow(row);
  }

  prune(before: Date, limit: number): Promise<number> {
    const p = (i: number) => this.#dialect.placeholder(i);
    return this.#dialect.write(
      `DELETE FROM ${this.#table} WHERE request_id IN (
         SELECT request_id FROM ${this.#table} WHERE received_at < ${p(1)} ORDER BY received_at LIMIT ${p(2)})`,
      [this.#dialect.toTime(before), Math.max(0, Math.trunc(limit))],
    );
  }

  #fromRow(row: ReplyRow): RecordedCommandReply {
    return {
      requestId: row.request_id,
      idempotencyKey: row.idempotency_key,
      outcome: row.outcome,
      reply: this.#dialect.fromJson(row.reply),
      receivedAt: this.#dialect.fromTime(row.received_at),
    };
  }
}

/** The reply's JSON text, after checking every field, so a bad reply fails here, not in the database. */
function replyText(reply: RecordedCommandReply): string {
  const invalid = (field: string, problem: string, cause?: unknown) =>
    new ConvergeError(
      'COMMAND_REPLY_INVALID',
      `Command reply to '${String(reply.requestId)}': ${problem}; give the command's message id, its idempotency key, the outcome (ok, rejected or failed), the reply as JSON and when it was received.`,
      { details: { field, requestId: String(reply.requestId) }, cause },
    );
  if (typeof reply.requestId !== 'string' || reply.requestId.length === 0) {
    throw invalid('requestId', "'requestId' is missing or empty");
  }
  // May be empty (a reply whose command carried no key): it still answers its command through
  // `forRequests`, only no retry finds it by key.
  if (typeof reply.idempotencyKey !== 'string') {
    throw invalid('idempotencyKey', "'idempotencyKey' is not a string");
  }
  if (!OUTCOMES.has(reply.outcome)) {
    throw invalid('outcome', `outcome '${String(reply.outcome)}' is not one of ok, rejected, failed`);
  }
  if (!(reply.receivedAt instanceof Date) || Number.isNaN(reply.receivedAt.getTime())) {
    throw invalid('receivedAt', "'receivedAt' is not a valid Date");
  }
  let text: string | undefined;
  try {
    text = JSON.stringify(reply.reply);
  } catch (cause) {
    throw invalid('reply', `the reply cannot be written as JSON (${(cause as Error).message})`, cause);
  }
  if (text === undefined) throw invalid('reply', 'the reply is missing (undefined is not JSON)');
  return text;
}
