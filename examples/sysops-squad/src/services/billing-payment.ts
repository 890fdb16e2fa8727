/**
 * Billing Payment: the owner of `billing`. It applies Customer Profile's events: a subscription
 * starts billing at the plan's price, a plan change re-prices it, an unsubscription stops it.
 * Each change is registered with the payment gateway, an outside dependency: while the gateway
 * is down the handler fails with a `RetryableError`, the inbox retries with backoff, and a message
 * whose retries run out becomes a transient dead letter that is redriven by itself once billing
 * succeeds again. A plan without a price is a `TerminalError`: a permanent dead letter for a
 * person to decide on.
 */
import { existsSync } from 'node:fs';
import { type Envelope, type Outbox, RetryableError, TerminalError, type Transaction } from '@converge/core';
import type { ServiceDatabase } from './database.js';
import { historyTable, recordEffect } from './effect-history.js';
import { AUDIT_RECORDED, CustomerEvent, type CustomerEventData, PRICED_PLANS } from './messages.js';

export const SERVICE = 'billing-payment';

export const BILLING_PAYMENT_TABLES: readonly string[] = [
  'CREATE TABLE IF NOT EXISTS billing (customer_id TEXT PRIMARY KEY, plan TEXT NOT NULL, monthly_cents INTEGER NOT NULL, active INTEGER NOT NULL, last_sequence INTEGER NOT NULL)',
  historyTable('billing_history'),
];

/**
 * The payment gateway, as far as this example needs one: it is down while the file
 * `downMarkerPath` exists (the demo creates and removes it to simulate an outage).
 */
export function paymentGateway(downMarkerPath: string) {
  return {
    register(customerId: string): void {
      if (existsSync(downMarkerPath)) {
        throw new RetryableError(`payment gateway unavailable while registering customer ${customerId}`);
      }
    },
  };
}

/** The inbox handler of `customer.*` events. */
export function billingHandler(
  db: ServiceDatabase,
  outbox: Outbox,
  gateway: ReturnType<typeof paymentGateway>,
) {
  const { p } = db;
  return async (message: Envelope<CustomerEventData>, tx: Transaction): Promise<void> => {
    const customerId = message.data.customerId;
    const [current] = await tx.query<{ plan: string; last_sequence: number }>(
      `SELECT plan, last_sequence FROM billing WHERE customer_id = ${p(1)}`,
      [customerId],
    );
    const plan = message.data.plan ?? current?.plan ?? 'none';
    const active = message.type !== CustomerEvent.UNSUBSCRIBED;
    const price = PRICED_PLANS[plan];
    if (active && price === undefined) {
      throw new TerminalError(`Billing has no price for plan '${plan}' (customer ${customerId}).`, {
        code: 'PLAN_NOT_PRICED',
      });
    }
    gateway.register(customerId);
    await tx.execute(
      `INSERT INTO billing (customer_id, plan, monthly_cents, active, last_sequence) VALUES (${p(1)}, ${p(2)}, ${p(3)}, ${p(4)}, ${p(5)})
       ON CONFLICT (customer_id) DO UPDATE SET plan = excluded.plan, monthly_cents = excluded.monthly_cents, active = excluded.active, last_sequence = excluded.last_sequence`,
      [customerId, plan, price ?? 0, active ? 1 : 0, message.sequence],
    );
    await recordEffect(tx, db, 'billing_history', message, Number(current?.last_sequence ?? 0));
    await outbox.append(tx, [
      {
        type: AUDIT_RECORDED,
        key: customerId,
        data: {
          service: SERVICE,
          action: active ? `billing ${plan}` : 'billing stopped',
          subject: customerId,
        },
        causationId: message.id,
      },
    ]);
  };
}
