/**
 * The messages the Sysops Squad services exchange, and their payload schemas. Customer Profile
 * publishes the `customer.*` events; every service sends `audit.recorded` to the Audit service,
 * the one owner of `audit_log` (common ownership: the others never write it).
 */

export const CustomerEvent = {
  SUBSCRIBED: 'customer.subscribed',
  PLAN_CHANGED: 'customer.plan-changed',
  UNSUBSCRIBED: 'customer.unsubscribed',
} as const;
export type CustomerEvent = (typeof CustomerEvent)[keyof typeof CustomerEvent];

export const CUSTOMER_EVENTS: readonly CustomerEvent[] = Object.values(CustomerEvent);

export const AUDIT_RECORDED = 'audit.recorded';

export interface CustomerEventData {
  readonly customerId: string;
  /** Present on `customer.subscribed` and `customer.plan-changed`. */
  readonly plan?: string;
}

export interface AuditData {
  readonly service: string;
  readonly action: string;
  readonly subject: string;
}

const customerId = { type: 'string', minLength: 1, maxLength: 100 } as const;
const plan = { type: 'string', pattern: '^[a-z]{1,20}$' } as const;

/** JSON Schemas of the `customer.*` payloads, checked by every consumer before its handler runs. */
export const customerEventSchemas = {
  [CustomerEvent.SUBSCRIBED]: {
    type: 'object',
    required: ['customerId', 'plan'],
    properties: { customerId, plan },
  },
  [CustomerEvent.PLAN_CHANGED]: {
    type: 'object',
    required: ['customerId', 'plan'],
    properties: { customerId, plan },
  },
  [CustomerEvent.UNSUBSCRIBED]: {
    type: 'object',
    required: ['customerId'],
    properties: { customerId },
  },
} as const;

/** The plans Billing Payment has a price for; another plan is a permanent billing error. */
export const PRICED_PLANS: Readonly<Record<string, number>> = Object.freeze({ basic: 1900, premium: 4900 });
