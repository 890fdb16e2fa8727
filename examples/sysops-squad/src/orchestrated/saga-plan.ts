/**
 * The orchestrated demo's business transactions, planned up front from the seed: one customer
 * unsubscribes per transaction, each from a subscription the demo puts in place first. About one
 * customer in ten (at least one) is on a plan Billing Payment has no price for: Billing refuses
 * that unsubscription for good, and the saga must compensate Customer Profile and Support Contract.
 */
import { UNPRICED_PLAN } from '../demo/plan.js';
import type { Random } from '../demo/random.js';

export interface UnsubscribeRequest {
  /** The start's idempotency key. */
  readonly requestId: string;
  readonly customerId: string;
  /** The plan the customer is on when the demo starts. */
  readonly plan: string;
}

export interface SagaPlan {
  readonly requests: readonly UnsubscribeRequest[];
  /** How many customers are on the unpriced plan (their sagas must end compensated). */
  readonly unpriced: number;
}

const PRICED = ['basic', 'premium'] as const;

/** `transactions` unsubscriptions, one per customer. */
export function planUnsubscribes(random: Random, transactions: number): SagaPlan {
  const unpriced = Math.max(1, Math.round(transactions / 10));
  const onUnpricedPlan = new Set<number>();
  while (onUnpricedPlan.size < unpriced) onUnpricedPlan.add(random.int(0, transactions - 1));
  const requests = Array.from({ length: transactions }, (_, i) => ({
    requestId: `unsubscribe-${i}`,
    customerId: `customer-${String(i).padStart(5, '0')}`,
    plan: onUnpricedPlan.has(i) ? UNPRICED_PLAN : random.pick(PRICED),
  }));
  return { requests, unpriced };
}
