import type { Envelope, StoredDeadLetter } from '@converge/core';
import { describe, expect, it } from 'vitest';
import { check } from './check.js';
import type { ConsumerObservation, EffectRow, Observation } from './observe.js';
import type { Plan } from './plan.js';

// One customer subscribes (basic) and unsubscribes; Customer Profile commits each event with its
// audit record. The consumers applied both, Audit recorded everything: a consistent system.
const event = (id: string, type: string, sequence: number, data: Record<string, unknown>) =>
  ({
    specversion: '1.0',
    id,
    source: 'customer-profile',
    type,
    time: new Date(1_000).toISOString(),
    datacontenttype: 'application/json',
    subject: 'c1',
    sequence,
    data,
  }) as Envelope<Record<string, unknown>>;
const audit = (id: string, source: string, sequence: number) => ({
  envelope: { ...event(id, 'audit.recorded', sequence, { service: source }), source },
});

const plan: Plan = {
  steps: [
    { kind: 'command', command: { requestId: 'r1', customerId: 'c1', action: 'subscribe', plan: 'basic' } },
    { kind: 'command', command: { requestId: 'r2', customerId: 'c1', action: 'unsubscribe' } },
  ],
  customers: 1,
  poisoned: {},
};

const effect = (message_id: string, sequence: number, previous_sequence: number): EffectRow => ({
  message_id,
  customer_id: 'c1',
  sequence,
  previous_sequence,
  applied_at: 2_000,
});

function consumer(
  effects: EffectRow[],
  deadLetters: ConsumerObservation['deadLetters'] = [],
): ConsumerObservation {
  return { effects, deadLetters, parked: 0, blockedKeys: 0 };
}

function healthy(): Observation {
  return {
    produced: {
      'customer-profile': [
        { envelope: event('e1', 'customer.subscribed', 1, { customerId: 'c1', plan: 'basic' }) },
        audit('a1', 'customer-profile', 2),
        { envelope: event('e2', 'customer.unsubscribed', 3, { customerId: 'c1' }) },
        audit('a2', 'customer-profile', 4),
      ],
      'support-contract': [audit('s1', 'support-contract', 1), audit('s2', 'support-contract', 2)],
      'billing-payment': [audit('b1', 'billing-payment', 1), audit('b2', 'billing-payment', 2)],
    },
    customers: new Map([['c1', { status: 'unsubscribed', plan: 'basic' }]]),
    contracts: new Map([['c1', { status: 'ended', plan: 'basic' }]]),
    billing: new Map([['c1', { plan: 'basic', active: 0 }]]),
    auditLog: ['a1', 'a2', 's1', 's2', 'b1', 'b2'].map((message_id) => ({ message_id, recorded_at: 2_500 })),
    consumers: {
      'support-contract': consumer([effect('e1', 1, 0), effect('e2', 3, 1)]),
      'billing-payment': consumer([effect('e1', 1, 0), effect('e2', 3, 1)]),
      audit: consumer([]),
    },
    log: { entries: 8, distinct: 8 },
  };
}

const letter = (reason: string, actors: string[], status: StoredDeadLetter['status'] = 'open') =>
  ({
    id: 1,
    reason,
    status,
    messageId: 'x',
    actors,
    autoRedrives: 0,
  }) as unknown as ConsumerObservation['deadLetters'][number];

describe('the demo check', () => {
  it('finds a consistent system consistent, with each time from commit to the last service', () => {
    const verdict = check(healthy(), plan, 0);
    expect(verdict.ok).toBe(true);
    expect(verdict.produced).toBe(8);
    expect(verdict.consistencyTimesMs).toEqual([1_500, 1_500]);
  });

  it('counts an effect that never happened as lost, and the row as wrong', () => {
    const observation = healthy();
    const verdict = check(
      {
        ...observation,
        billing: new Map([['c1', { plan: 'basic', active: 1 }]]),
        consumers: { ...observation.consumers, 'billing-payment': consumer([effect('e1', 1, 0)]) },
      },
      plan,
      0,
    );
    expect(verdict).toMatchObject({ ok: false, lost: 1, stateMismatches: { 'billing-payment': 1 } });
  });

  it('counts an effect applied twice, and one applied out of order', () => {
    const observation = healthy();
    const verdict = check(
      {
        ...observation,
        consumers: {
          ...observation.consumers,
          'support-contract': consumer([effect('e1', 1, 0), effect('e2', 3, 1), effect('e2', 3, 3)]),
          'billing-payment': consumer([effect('e2', 3, 0), effect('e1', 1, 3)]),
        },
      },
      plan,
      0,
    );
    expect(verdict).toMatchObject({ ok: false, duplicateEffects: 1, orderViolations: 2 });
  });

  it('finds an audit record missing, and one recorded twice', () => {
    const observation = healthy();
    const auditLog = observation.auditLog.filter((row) => row.message_id !== 's2');
    auditLog.push({ message_id: 'a1', recorded_at: 3_000 });
    expect(check({ ...observation, auditLog }, plan, 0)).toMatchObject({
      ok: false,
      lost: 1,
      duplicateEffects: 1,
    });
  });

  it('refuses a dead letter nobody injected, and misses one that was', () => {
    const observation = healthy();
    const withLetter = {
      ...observation,
      consumers: {
        ...observation.consumers,
        audit: consumer([], [letter('HANDLER_TERMINAL_ERROR', ['converge'])]),
      },
    };
    expect(check(withLetter, plan, 0).unexpectedDeadLetters).toEqual([
      'audit HANDLER_TERMINAL_ERROR x (not expected)',
    ]);
    expect(check(observation, plan, 1).unexpectedDeadLetters).toHaveLength(3);
  });

  it('counts a transient dead letter left open, and anything a person did, as manual actions', () => {
    const observation = healthy();
    const verdict = check(
      {
        ...observation,
        consumers: {
          ...observation.consumers,
          audit: consumer(
            [],
            [
              letter('HANDLER_RETRIES_EXHAUSTED', ['converge']),
              letter('MALFORMED', ['converge', 'alice'], 'archived'),
            ],
          ),
        },
      },
      plan,
      0,
    );
    expect(verdict.manualActions).toBe(2);
  });

  it('finds a customer whose acknowledged command is missing from Customer Profile', () => {
    const observation = healthy();
    const customers = new Map([['c1', { status: 'active', plan: 'basic' }]]);
    expect(check({ ...observation, customers }, plan, 0).stateMismatches['customer-profile']).toBe(1);
  });
});
