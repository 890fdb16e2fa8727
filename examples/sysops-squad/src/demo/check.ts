/**
 * Compares what the databases hold (`observe`) with what they must hold (`expected-state`), and
 * counts what the report shows: lost, duplicate and out-of-order effects, rows that differ, dead
 * letters that should not be there (or are missing), and the actions a person would have had to
 * take (any audit entry by someone other than Converge, any transient dead letter left open).
 */
import { AUDIT_RECORDED, CUSTOMER_EVENTS } from '../services/messages.js';
import { billable, type ConsumerExpectation, expectConsumer, passesSchema } from './expected-state.js';
import type { ConsumerObservation, EffectRow, Observation } from './observe.js';
import type { Plan } from './plan.js';

const TRANSIENT = new Set(['HANDLER_RETRIES_EXHAUSTED', 'HANDLER_TIMEOUT']);
const CONSUMERS_OF_THE_LOG = ['support-contract', 'billing-payment', 'audit'] as const;

export interface Verdict {
  readonly produced: number;
  readonly lost: number;
  readonly duplicateEffects: number;
  readonly orderViolations: number;
  readonly stateMismatches: Record<string, number>;
  readonly deadLetters: Record<string, number>;
  readonly unexpectedDeadLetters: string[];
  readonly awaitingDecision: { deadLetters: number; blockedKeys: number; waitingMessages: number };
  readonly automaticRedrives: number;
  readonly manualActions: number;
  /** Commit-to-everywhere times of the customer events that reached every service, in ms. */
  readonly consistencyTimesMs: number[];
  readonly ok: boolean;
}

export function check(observation: Observation, plan: Plan, malformedInjected: number): Verdict {
  const events = observation.produced['customer-profile'] ?? [];
  const expectations: Record<'support-contract' | 'billing-payment', ConsumerExpectation> = {
    'support-contract': expectConsumer(events, passesSchema),
    'billing-payment': expectConsumer(events, billable),
  };
  let lost = 0;
  let duplicateEffects = 0;
  let orderViolations = 0;
  const stateMismatches: Record<string, number> = {};
  const expectedLetters: string[] = [];
  for (const [service, expectation] of Object.entries(expectations)) {
    const { effects } = observation.consumers[service]!;
    const effectIds = new Set(effects.map((row) => row.message_id));
    duplicateEffects += effects.length - effectIds.size;
    orderViolations += effects.filter((row) => row.sequence <= row.previous_sequence).length;
    lost += [...expectation.applied].filter((id) => !effectIds.has(id)).length;
    const extra = [...effectIds].filter((id) => !expectation.applied.has(id)).length;
    stateMismatches[service] = extra + rowMismatches(observation, service, expectation);
    for (const id of expectation.deadLettered) {
      const event = events.find((message) => message.envelope.id === id)!.envelope;
      const reason = passesSchema(event.type, event.data) ? 'HANDLER_TERMINAL_ERROR' : 'SCHEMA_INVALID';
      expectedLetters.push(`${service} ${reason} ${id}`);
    }
  }
  for (const service of CONSUMERS_OF_THE_LOG) {
    for (let i = 0; i < malformedInjected; i += 1) expectedLetters.push(`${service} MALFORMED -`);
  }

  // Audit: every audit.recorded any service committed, recorded once.
  const audits = Object.values(observation.produced)
    .flat()
    .filter((message) => message.envelope.type === AUDIT_RECORDED)
    .map((message) => message.envelope.id);
  const recorded = new Set(observation.auditLog.map((row) => row.message_id));
  duplicateEffects += observation.auditLog.length - recorded.size;
  lost += audits.filter((id) => !recorded.has(id)).length;
  stateMismatches.audit = recorded.size - audits.filter((id) => recorded.has(id)).length;
  stateMismatches['customer-profile'] = customerMismatches(observation, plan);

  const letters = labelledLetters(observation);
  const unexpectedDeadLetters = symmetricDifference(
    letters.filter((letter) => letter.status === 'open').map((letter) => letter.line),
    expectedLetters,
  );
  const open = letters.filter((letter) => letter.status === 'open');
  const deadLetters: Record<string, number> = {};
  for (const letter of open) deadLetters[letter.reason] = (deadLetters[letter.reason] ?? 0) + 1;
  const consumers = Object.values(observation.consumers);
  const manualActions =
    open.filter((letter) => TRANSIENT.has(letter.reason)).length +
    letters.flatMap((letter) => letter.actors).filter((actor) => !actor.startsWith('converge')).length;
  const verdict = {
    produced: Object.values(observation.produced).reduce((sum, list) => sum + list.length, 0),
    lost,
    duplicateEffects,
    orderViolations,
    stateMismatches,
    deadLetters,
    unexpectedDeadLetters,
    awaitingDecision: {
      deadLetters: open.filter((letter) => !TRANSIENT.has(letter.reason)).length,
      blockedKeys: sum(consumers.map((consumer) => consumer.blockedKeys)),
      waitingMessages: sum(consumers.map((consumer) => consumer.parked)),
    },
    automaticRedrives: sum(letters.map((letter) => letter.autoRedrives)),
    manualActions,
    consistencyTimesMs: consistencyTimes(observation),
  };
  const ok =
    lost === 0 &&
    duplicateEffects === 0 &&
    orderViolations === 0 &&
    Object.values(stateMismatches).every((n) => n === 0) &&
    unexpectedDeadLetters.length === 0 &&
    manualActions === 0;
  return { ...verdict, ok };
}

function rowMismatches(observation: Observation, service: string, expectation: ConsumerExpectation): number {
  const actual =
    service === 'support-contract'
      ? [...observation.contracts].map(
          ([id, row]) => [id, { active: row.status === 'active', plan: row.plan }] as const,
        )
      : [...observation.billing].map(
          ([id, row]) => [id, { active: row.active === 1, plan: row.plan }] as const,
        );
  const rows = new Map<string, { active: boolean; plan: string }>(actual);
  let mismatches = Math.abs(rows.size - expectation.rows.size);
  for (const [id, want] of expectation.rows) {
    const got = rows.get(id);
    if (got === undefined || got.active !== want.active || got.plan !== want.plan) mismatches += 1;
  }
  return mismatches;
}

/** Customer Profile must hold what the acknowledged commands, in order, leave behind. */
function customerMismatches(observation: Observation, plan: Plan): number {
  const want = new Map<string, { status: string; plan: string }>();
  for (const step of plan.steps) {
    if (step.kind !== 'command') continue;
    const { customerId, action } = step.command;
    const before = want.get(customerId);
    want.set(customerId, {
      status: action === 'unsubscribe' ? 'unsubscribed' : 'active',
      plan: step.command.plan ?? before?.plan ?? 'basic',
    });
  }
  let mismatches = Math.abs(want.size - observation.customers.size);
  for (const [id, row] of want) {
    const got = observation.customers.get(id);
    if (got?.status !== row.status || got.plan !== row.plan) mismatches += 1;
  }
  return mismatches;
}

function labelledLetters(observation: Observation) {
  return Object.entries(observation.consumers).flatMap(([service, consumer]: [string, ConsumerObservation]) =>
    consumer.deadLetters.map((letter) => ({
      ...letter,
      line: `${service} ${letter.reason} ${letter.reason === 'MALFORMED' ? '-' : letter.messageId}`,
    })),
  );
}

function symmetricDifference(actual: readonly string[], expected: readonly string[]): string[] {
  const remaining = [...expected];
  const unexpected: string[] = [];
  for (const line of actual) {
    const at = remaining.indexOf(line);
    if (at === -1) unexpected.push(`${line} (not expected)`);
    else remaining.splice(at, 1);
  }
  return [...unexpected, ...remaining.map((line) => `${line} (expected, missing)`)];
}

function consistencyTimes(observation: Observation): number[] {
  const appliedAt = (rows: readonly EffectRow[]) =>
    new Map(rows.map((row) => [row.message_id, row.applied_at]));
  const support = appliedAt(observation.consumers['support-contract']!.effects);
  const billing = appliedAt(observation.consumers['billing-payment']!.effects);
  const audited = new Map(observation.auditLog.map((row) => [row.message_id, row.recorded_at]));
  const produced = observation.produced['customer-profile'] ?? [];
  // Customer Profile appends each event and its audit record together: the record is the next message.
  const times: number[] = [];
  produced.forEach(({ envelope }, index) => {
    if (!(CUSTOMER_EVENTS as readonly string[]).includes(envelope.type)) return;
    const audit = produced[index + 1]?.envelope;
    const done = [support.get(envelope.id), billing.get(envelope.id), audit && audited.get(audit.id)];
    if (done.some((at) => at === undefined)) return;
    times.push(Math.max(...(done as number[])) - Date.parse(envelope.time));
  });
  return times;
}

const sum = (values: readonly number[]) => values.reduce((a, b) => a + b, 0);
