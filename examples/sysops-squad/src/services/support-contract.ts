/**
 * Support Contract: the owner of `contract`. It applies Customer Profile's events, each in one
 * transaction of its own database together with the inbox receipt: a subscription opens (or
 * reopens) the contract, a plan change updates it, an unsubscription ends it. Each change also
 * sends `audit.recorded` to the Audit service through this service's own outbox, in the same
 * transaction.
 */
import type { Envelope, Outbox, Transaction } from '@converge/core';
import type { ServiceDatabase } from './database.js';
import { historyTable, recordEffect } from './effect-history.js';
import { AUDIT_RECORDED, CustomerEvent, type CustomerEventData } from './messages.js';

export const SERVICE = 'support-contract';

export const SUPPORT_CONTRACT_TABLES: readonly string[] = [
  'CREATE TABLE IF NOT EXISTS contract (customer_id TEXT PRIMARY KEY, status TEXT NOT NULL, plan TEXT NOT NULL, last_sequence INTEGER NOT NULL)',
  historyTable('contract_history'),
];

/** The inbox handler of `customer.*` events. */
export function contractHandler(db: ServiceDatabase, outbox: Outbox) {
  const { p } = db;
  return async (message: Envelope<CustomerEventData>, tx: Transaction): Promise<void> => {
    const customerId = message.data.customerId;
    const [current] = await tx.query<{ plan: string; last_sequence: number }>(
      `SELECT plan, last_sequence FROM contract WHERE customer_id = ${p(1)}`,
      [customerId],
    );
    const status = message.type === CustomerEvent.UNSUBSCRIBED ? 'ended' : 'active';
    const plan = message.data.plan ?? current?.plan ?? 'none';
    await tx.execute(
      `INSERT INTO contract (customer_id, status, plan, last_sequence) VALUES (${p(1)}, ${p(2)}, ${p(3)}, ${p(4)})
       ON CONFLICT (customer_id) DO UPDATE SET status = excluded.status, plan = excluded.plan, last_sequence = excluded.last_sequence`,
      [customerId, status, plan, message.sequence],
    );
    await recordEffect(tx, db, 'contract_history', message, Number(current?.last_sequence ?? 0));
    await outbox.append(tx, [
      {
        type: AUDIT_RECORDED,
        key: customerId,
        data: { service: SERVICE, action: `contract ${status}`, subject: customerId },
        causationId: message.id,
      },
    ]);
  };
}
