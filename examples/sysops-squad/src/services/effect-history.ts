/**
 * The trail each consumer keeps of the effects it applied: one row per applied message, with no
 * unique constraint, so a message applied twice would show as two rows, and with the sequence
 * the key had reached before, so a message applied out of order would show too. The demo's
 * checker reads it; a real service might keep it as its change history.
 */
import type { Envelope, Transaction } from '@converge/core';
import type { ServiceDatabase } from './database.js';

/** DDL of the history table `table` (identifiers here are the services' own constants). */
export function historyTable(table: string): string {
  return `CREATE TABLE IF NOT EXISTS ${table} (message_id TEXT NOT NULL, customer_id TEXT NOT NULL, type TEXT NOT NULL, sequence INTEGER NOT NULL, previous_sequence INTEGER NOT NULL, applied_at BIGINT NOT NULL)`;
}

/** Records that `message` was applied, after a key that had reached `previousSequence`. */
export async function recordEffect(
  tx: Transaction,
  { p }: ServiceDatabase,
  table: string,
  message: Envelope,
  previousSequence: number,
): Promise<void> {
  await tx.execute(
    `INSERT INTO ${table} (message_id, customer_id, type, sequence, previous_sequence, applied_at) VALUES (${p(1)}, ${p(2)}, ${p(3)}, ${p(4)}, ${p(5)}, ${p(6)})`,
    [message.id, message.subject, message.type, message.sequence, previousSequence, Date.now()],
  );
}
