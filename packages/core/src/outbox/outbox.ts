import {
  DEFAULT_MAX_MESSAGE_BYTES,
  draftToEnvelope,
  type Envelope,
  type MessageDraft,
  serializeEnvelope,
} from '../core/envelope.js';
import { ConvergeError, isUniqueViolation } from '../core/errors.js';
import type { Storage, Transaction } from '../ports/storage.js';

export interface OutboxOptions {
  /** Where the outbox table lives: the owner service's own database. */
  readonly storage: Storage;
  /** The owner service's name; becomes every envelope's `source`. */
  readonly source: string;
  /** Largest serialized envelope accepted by `append`. Default 256 KiB. */
  readonly maxMessageBytes?: number;
  /** The clock (tests). Default `() => new Date()`. */
  readonly now?: () => Date;
}

/** Appends messages inside the owner's business transaction. */
export interface Outbox {
  /**
   * Writes `messages` to the outbox inside `tx`, the caller's own transaction, so they commit
   * with the business change or not at all. Assigns each message its key's next `sequence`
   * (gap-free, in commit order). Checks every message before writing anything.
   *
   * @returns the envelopes as they will be published.
   * @throws ConvergeError `OUTBOX_APPEND_OUTSIDE_TRANSACTION`, `MESSAGE_INVALID` (with
   *   `details.field`), `MESSAGE_TOO_LARGE` or `MESSAGE_ID_CONFLICT` (an explicit `id` already in
   *   the outbox); nothing of the append is written then (no sequence is used up), and the caller
   *   should roll its transaction back.
   * @example
   * await storage.transaction(async (tx) => {
   *   await tx.execute('UPDATE customer SET status = ? WHERE id = ?', ['unsubscribed', id]);
   *   await outbox.append(tx, [{ type: 'customer.unsubscribed', key: id, data: { customerId: id } }]);
   * });
   */
  append(tx: Transaction, messages: readonly MessageDraft[]): Promise<Envelope[]>;
}

const SAVEPOINT = 'converge_outbox_append';
const SOURCE = /^[A-Za-z0-9][A-Za-z0-9._:/-]{0,127}$/;

/** Creates the outbox of one owner service. */
export function createOutbox(options: OutboxOptions): Outbox {
  if (typeof options.source !== 'string' || !SOURCE.test(options.source)) {
    throw new ConvergeError(
      'CONFIG_INVALID',
      `Outbox 'source' must name the owning service (letters, digits, '.', '-', '_'), got ${JSON.stringify(options.source)}.`,
      { details: { field: 'source' } },
    );
  }
  const config = Object.freeze({
    store: options.storage.outbox,
    source: options.source,
    maxMessageBytes: options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES,
    now: options.now ?? (() => new Date()),
    errorAbortsTransaction: options.storage.capabilities.errorAbortsTransaction,
  });

  return Object.freeze({
    async append(tx: Transaction, messages: readonly MessageDraft[]): Promise<Envelope[]> {
      if (tx?.isTransaction !== true) {
        throw new ConvergeError(
          'OUTBOX_APPEND_OUTSIDE_TRANSACTION',
          'outbox.append needs the transaction of your business change (from storage.transaction, pgTransaction or sqliteTransaction); a message written outside it could be lost or sent for a change that never committed.',
        );
      }
      if (!Array.isArray(messages)) {
        throw new ConvergeError('MESSAGE_INVALID', 'outbox.append takes an array of messages.', {
          details: { field: 'messages' },
        });
      }
      if (messages.length === 0) return [];
      const now = config.now();
      // Check everything, including the size with the widest possible sequence, before the first
      // write: a failed append must not leave a reserved sequence without its message.
      const drafts = messages.map((draft, index) => {
        const envelope = draftToEnvelope(draft, index, config.source, now);
        serializeEnvelope({ ...envelope, sequence: Number.MAX_SAFE_INTEGER }, index, config.maxMessageBytes);
        return envelope;
      });
      const seen = new Set<string>();
      drafts.forEach((envelope, index) => {
        if (seen.has(envelope.id)) {
          throw new ConvergeError(
            'MESSAGE_INVALID',
            `Message ${index}: field 'id' repeats the id of an earlier message in this append (${envelope.id}); give each message its own id or omit it.`,
            { details: { index, field: 'id' } },
          );
        }
        seen.add(envelope.id);
      });
      // Where a failed statement does not abort the transaction (SQLite), a savepoint keeps the
      // append all-or-nothing: a caller who catches the error and commits must not commit a
      // reserved sequence without its message, or the key would wait for it forever.
      const savepoint = !config.errorAbortsTransaction;
      if (savepoint) await tx.execute(`SAVEPOINT ${SAVEPOINT}`);
      try {
        const rows = await write(tx, drafts);
        if (savepoint) await tx.execute(`RELEASE SAVEPOINT ${SAVEPOINT}`);
        return rows.map((row) => row.envelope);
      } catch (error) {
        if (savepoint) {
          await tx.execute(`ROLLBACK TO SAVEPOINT ${SAVEPOINT}`);
          await tx.execute(`RELEASE SAVEPOINT ${SAVEPOINT}`);
        }
        if (isUniqueViolation(error)) {
          throw new ConvergeError(
            'MESSAGE_ID_CONFLICT',
            'outbox.append: a message with one of these ids is already in the outbox; omit `id` to get a fresh UUIDv7, or use a new one.',
            { cause: error, details: { field: 'id' } },
          );
        }
        throw error;
      }
    },
  });

  async function write(tx: Transaction, drafts: readonly Envelope[]) {
    const countByKey = new Map<string, number>();
    for (const envelope of drafts)
      countByKey.set(envelope.subject, (countByKey.get(envelope.subject) ?? 0) + 1);
    // Reserve in key order, so two producers touching the same keys lock them in one order.
    const nextByKey = new Map<string, number>();
    for (const key of [...countByKey.keys()].sort()) {
      nextByKey.set(
        key,
        await config.store.reserveSequence(tx, config.source, key, countByKey.get(key) ?? 1),
      );
    }
    const rows = drafts.map((envelope, index) => {
      const sequence = nextByKey.get(envelope.subject) ?? 1;
      nextByKey.set(envelope.subject, sequence + 1);
      const sequenced: Envelope = { ...envelope, sequence };
      return { envelope: sequenced, body: serializeEnvelope(sequenced, index, config.maxMessageBytes) };
    });
    await config.store.insert(tx, rows);
    return rows;
  }
}
