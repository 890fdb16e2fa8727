/**
 * The demo's business transactions, planned up front from the seed: customers subscribe, change
 * plan and unsubscribe (only transitions Customer Profile accepts), spread over many customers.
 * With chaos, two customers carry the permanently bad messages: one gets an event whose payload
 * breaks its schema (a faulty producer deploy), the other a plan Billing has no price for; each
 * then gets one more command, which must wait behind its dead letter (the `block-key` policy).
 */
import type { Command } from '../services/customer-profile.js';
import type { Random } from './random.js';

export type Step =
  | { readonly kind: 'command'; readonly command: Command }
  /** Append a `customer.unsubscribed` whose data breaks the schema, straight to the outbox. */
  | { readonly kind: 'schema-invalid-event'; readonly customerId: string };

export interface Plan {
  readonly steps: readonly Step[];
  readonly customers: number;
  /** The customers the permanently bad messages are about (empty without chaos). */
  readonly poisoned: { readonly schemaInvalid?: string; readonly unpricedPlan?: string };
}

export const POISON_SCHEMA_CUSTOMER = 'customer-bad-payload';
export const POISON_PLAN_CUSTOMER = 'customer-bad-plan';
export const UNPRICED_PLAN = 'platinum';
const PLANS = ['basic', 'premium'] as const;

/** `transactions` commands (with chaos, 5 of them for the two poisoned customers). */
export function planTransactions(random: Random, transactions: number, withPoison: boolean): Plan {
  const poisonSteps = withPoison ? poisonedCustomerSteps() : [];
  const commands = transactions - poisonSteps.filter((step) => step.kind === 'command').length;
  const customers = Math.max(4, Math.ceil(commands / 4));
  const state = new Map<string, { active: boolean; plan: string }>();
  const steps: Step[] = [];
  for (let i = 0; i < commands; i += 1) {
    const customerId = `customer-${String(random.int(0, customers - 1)).padStart(5, '0')}`;
    const current = state.get(customerId);
    let command: Command;
    if (current?.active !== true) {
      command = { requestId: `req-${i}`, customerId, action: 'subscribe', plan: random.pick(PLANS) };
    } else if (random.next() < 0.5) {
      const plan = current.plan === 'basic' ? 'premium' : 'basic';
      command = { requestId: `req-${i}`, customerId, action: 'change-plan', plan };
    } else {
      command = { requestId: `req-${i}`, customerId, action: 'unsubscribe' };
    }
    state.set(customerId, {
      active: command.action !== 'unsubscribe',
      plan: command.plan ?? current?.plan ?? 'basic',
    });
    steps.push({ kind: 'command', command });
  }
  // The poisoned customers' steps are spread evenly through the run.
  const base = steps.length;
  poisonSteps.forEach((step, index) => {
    const at = Math.floor(((index + 1) * base) / (poisonSteps.length + 1));
    steps.splice(at + index, 0, step);
  });
  return {
    steps,
    customers: customers + (withPoison ? 2 : 0),
    poisoned: withPoison ? { schemaInvalid: POISON_SCHEMA_CUSTOMER, unpricedPlan: POISON_PLAN_CUSTOMER } : {},
  };
}

function poisonedCustomerSteps(): Step[] {
  const command = (n: number, customerId: string, action: Command['action'], plan?: string): Step => ({
    kind: 'command',
    command: { requestId: `req-bad-${n}`, customerId, action, ...(plan === undefined ? {} : { plan }) },
  });
  return [
    command(1, POISON_SCHEMA_CUSTOMER, 'subscribe', 'basic'),
    command(2, POISON_PLAN_CUSTOMER, 'subscribe', 'basic'),
    { kind: 'schema-invalid-event', customerId: POISON_SCHEMA_CUSTOMER },
    command(3, POISON_PLAN_CUSTOMER, 'change-plan', UNPRICED_PLAN),
    command(4, POISON_SCHEMA_CUSTOMER, 'unsubscribe'),
    command(5, POISON_PLAN_CUSTOMER, 'unsubscribe'),
  ];
}

/** The customer a step is about. */
export const customerOf = (step: Step): string =>
  step.kind === 'command' ? step.command.customerId : step.customerId;
