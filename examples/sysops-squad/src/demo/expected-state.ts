/**
 * The end state every database must reach, derived only from what Customer Profile committed
 * (its outbox, in per-customer sequence order) and the services' published rules — never from
 * what the consumers did. Per customer, each consumer applies the events in order until one it
 * must refuse for good (a payload that breaks the schema; for Billing, a plan without a price):
 * that event is its dead letter and the customer's later events wait behind it.
 */
import { Ajv } from 'ajv';
import { CUSTOMER_EVENTS, CustomerEvent, customerEventSchemas, PRICED_PLANS } from '../services/messages.js';
import type { ProducedMessage } from './observe.js';

export interface ConsumerExpectation {
  /** Message ids the consumer must have applied, once each. */
  readonly applied: ReadonlySet<string>;
  /** Message ids it must hold as open dead letters (the permanently bad ones). */
  readonly deadLettered: ReadonlySet<string>;
  /** Customer events that must wait behind those dead letters. */
  readonly waiting: number;
  /** The row each customer must end with (`status`/`active` and `plan`). */
  readonly rows: ReadonlyMap<string, { readonly active: boolean; readonly plan: string }>;
}

export type ConsumerRule = (type: string, data: Record<string, unknown>) => boolean;

const ajv = new Ajv({ strict: true });
const schemaOf = new Map(
  Object.entries(customerEventSchemas).map(([type, schema]) => [type, ajv.compile(schema)] as const),
);

/** The rule every consumer of `customer.*` applies before its handler runs. */
export const passesSchema: ConsumerRule = (type, data) => schemaOf.get(type)?.(data) === true;

/** Billing also refuses a plan it has no price for. */
export const billable: ConsumerRule = (type, data) =>
  passesSchema(type, data) &&
  (type === CustomerEvent.UNSUBSCRIBED || PRICED_PLANS[String(data.plan)] !== undefined);

export function expectConsumer(
  produced: readonly ProducedMessage[],
  accepts: ConsumerRule,
): ConsumerExpectation {
  const byCustomer = new Map<string, ProducedMessage['envelope'][]>();
  for (const { envelope } of produced) {
    if (!(CUSTOMER_EVENTS as readonly string[]).includes(envelope.type)) continue;
    const list = byCustomer.get(envelope.subject) ?? [];
    list.push(envelope);
    byCustomer.set(envelope.subject, list);
  }
  const applied = new Set<string>();
  const deadLettered = new Set<string>();
  const rows = new Map<string, { active: boolean; plan: string }>();
  let waiting = 0;
  for (const [customer, events] of byCustomer) {
    events.sort((a, b) => a.sequence - b.sequence);
    let blocked = false;
    for (const event of events) {
      if (blocked) {
        waiting += 1;
      } else if (!accepts(event.type, event.data)) {
        deadLettered.add(event.id);
        blocked = true;
      } else {
        applied.add(event.id);
        const plan =
          typeof event.data.plan === 'string' ? event.data.plan : (rows.get(customer)?.plan ?? 'none');
        rows.set(customer, { active: event.type !== CustomerEvent.UNSUBSCRIBED, plan });
      }
    }
  }
  return { applied, deadLettered, waiting, rows };
}
