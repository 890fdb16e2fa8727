/**
 * Audit: the one owner of `audit_log`, the book's example of common ownership. Every other
 * service would like to write it; instead each sends `audit.recorded` messages (fire and forget,
 * on a persisted queue: its outbox), and only this service writes the table.
 */
import type { Envelope, Transaction } from '@converge/core';
import type { ServiceDatabase } from './database.js';
import type { AuditData } from './messages.js';

export const SERVICE = 'audit';

export const AUDIT_TABLES: readonly string[] = [
  'CREATE TABLE IF NOT EXISTS audit_log (message_id TEXT NOT NULL, source TEXT NOT NULL, subject TEXT NOT NULL, action TEXT NOT NULL, recorded_at BIGINT NOT NULL)',
];

/** The inbox handler of `audit.recorded`. */
export function auditHandler({ p }: ServiceDatabase) {
  return async (message: Envelope<AuditData>, tx: Transaction): Promise<void> => {
    await tx.execute(
      `INSERT INTO audit_log (message_id, source, subject, action, recorded_at) VALUES (${p(1)}, ${p(2)}, ${p(3)}, ${p(4)}, ${p(5)})`,
      [message.id, message.source, message.data.subject, message.data.action, Date.now()],
    );
  };
}
