/**
 * The three services' parts of the orchestrated _customer unsubscribes_, on the same tables as the
 * event-based services (each in its own database), plus an effect table each:
 *
 * - Customer Profile marks the customer unsubscribed (undo: active again);
 * - Support Contract ends the contract (undo: active again);
 * - Billing Payment stops billing, registering the change with the payment gateway and closing
 *   the account with a final invoice at the plan's price (undo: billing again). While the gateway
 *   is down it answers 503 (retryable: nothing applied or stored); a plan it has no price for is
 *   refused with 422 for good, and the saga compensates the two parts before it.
 */
import { RetryableError, type Transaction } from '@converge/core';
import { BILLING_PAYMENT_TABLES, paymentGateway } from '../services/billing-payment.js';
import { CUSTOMER_PROFILE_TABLES } from '../services/customer-profile.js';
import type { ServiceDatabase } from '../services/database.js';
import { PRICED_PLANS } from '../services/messages.js';
import { SUPPORT_CONTRACT_TABLES } from '../services/support-contract.js';
import { effectTable, type ParticipantName, type ParticipantPart } from './participant-server.js';

/** The effect table of each participant. */
export const EFFECT_TABLES: Readonly<Record<ParticipantName, string>> = {
  'customer-profile': 'customer_saga_effect',
  'support-contract': 'contract_saga_effect',
  'billing-payment': 'billing_saga_effect',
};

/** Each participant's tables (the event-based service's, and its effect table). */
export const PARTICIPANT_TABLES: Readonly<Record<ParticipantName, readonly string[]>> = {
  'customer-profile': [...CUSTOMER_PROFILE_TABLES, effectTable(EFFECT_TABLES['customer-profile'])],
  'support-contract': [...SUPPORT_CONTRACT_TABLES, effectTable(EFFECT_TABLES['support-contract'])],
  'billing-payment': [...BILLING_PAYMENT_TABLES, effectTable(EFFECT_TABLES['billing-payment'])],
};

const notFound = (service: string, customerId: string) => ({
  status: 404,
  body: { error: `${service} has no customer ${customerId}` },
});

/**
 * The part `service` plays. `gatewayDownFile`: Billing Payment's payment gateway is down while
 * this file exists.
 */
export function participantPart(
  service: ParticipantName,
  db: ServiceDatabase,
  gatewayDownFile: string,
): ParticipantPart {
  switch (service) {
    case 'customer-profile':
      return customerProfile(db);
    case 'support-contract':
      return supportContract(db);
    case 'billing-payment':
      return billingPayment(db, gatewayDownFile);
  }
}

/** A part that moves one status column: `ended` while the unsubscription is in force, `active` before and after undoing. */
interface StatusPart {
  readonly service: ParticipantName;
  /** `UPDATE … SET status = $1 … WHERE <customer> = $2` (the service's own constant SQL). */
  readonly setStatus: string;
  /** `INSERT …` of an active customer on plan: `$1` customer, `$2` plan. */
  readonly seed: string;
  readonly ended: string;
}

function statusPart(spec: StatusPart): ParticipantPart {
  const setStatus = (tx: Transaction, customerId: string, status: string) =>
    tx.execute(spec.setStatus, [status, customerId]);
  return {
    service: spec.service,
    tables: PARTICIPANT_TABLES[spec.service],
    effectTable: EFFECT_TABLES[spec.service],
    async seed(tx, customerId, plan) {
      await tx.execute(spec.seed, [customerId, plan]);
    },
    async apply(tx, customerId) {
      if ((await setStatus(tx, customerId, spec.ended)) === 0) return notFound(spec.service, customerId);
      return { status: 200, body: { customerId, status: spec.ended } };
    },
    async undo(tx, customerId) {
      await setStatus(tx, customerId, 'active');
    },
  };
}

function customerProfile({ p }: ServiceDatabase): ParticipantPart {
  return statusPart({
    service: 'customer-profile',
    setStatus: `UPDATE customer SET status = ${p(1)}, changes = changes + 1 WHERE id = ${p(2)}`,
    seed: `INSERT INTO customer (id, status, plan, changes) VALUES (${p(1)}, 'active', ${p(2)}, 1)`,
    ended: 'unsubscribed',
  });
}

function supportContract({ p }: ServiceDatabase): ParticipantPart {
  return statusPart({
    service: 'support-contract',
    setStatus: `UPDATE contract SET status = ${p(1)} WHERE customer_id = ${p(2)}`,
    seed: `INSERT INTO contract (customer_id, status, plan, last_sequence) VALUES (${p(1)}, 'active', ${p(2)}, 0)`,
    ended: 'ended',
  });
}

function billingPayment({ p }: ServiceDatabase, gatewayDownFile: string): ParticipantPart {
  const service = 'billing-payment';
  const gateway = paymentGateway(gatewayDownFile);
  const setActive = (tx: Transaction, customerId: string, active: boolean) =>
    tx.execute(`UPDATE billing SET active = ${p(1)} WHERE customer_id = ${p(2)}`, [
      active ? 1 : 0,
      customerId,
    ]);
  return {
    service,
    tables: PARTICIPANT_TABLES[service],
    effectTable: EFFECT_TABLES[service],
    async seed(tx, customerId, plan) {
      await tx.execute(
        `INSERT INTO billing (customer_id, plan, monthly_cents, active, last_sequence) VALUES (${p(1)}, ${p(2)}, ${p(3)}, 1, 0)`,
        [customerId, plan, PRICED_PLANS[plan] ?? 0],
      );
    },
    async apply(tx, customerId) {
      const [account] = await tx.query<{ plan: string }>(
        `SELECT plan FROM billing WHERE customer_id = ${p(1)}`,
        [customerId],
      );
      if (account === undefined) return notFound(service, customerId);
      const price = PRICED_PLANS[account.plan];
      if (price === undefined) {
        return {
          status: 422,
          body: {
            code: 'PLAN_NOT_PRICED',
            error: `Billing has no price for plan '${account.plan}' (customer ${customerId}): no final invoice, billing not stopped.`,
          },
        };
      }
      try {
        gateway.register(customerId);
      } catch (error) {
        if (!(error instanceof RetryableError)) throw error;
        return { status: 503, body: { code: 'PAYMENT_GATEWAY_DOWN', error: error.message } };
      }
      await setActive(tx, customerId, false);
      return { status: 200, body: { customerId, finalInvoiceCents: price } };
    },
    async undo(tx, customerId) {
      await setActive(tx, customerId, true);
    },
  };
}
