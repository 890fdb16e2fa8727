/**
 * The orchestrated demo's verdict must fail whenever a user would see a half-done or doubled
 * unsubscription: a lost saga, an effect applied twice, a compensated saga that left a part in
 * force or undid out of order, a completed saga on the unpriced plan, a saga still waiting.
 */
import { describe, expect, it } from 'vitest';
import { UNPRICED_PLAN } from '../demo/plan.js';
import { EffectKind, type ParticipantName } from './participant-server.js';
import { checkSagas } from './saga-check.js';
import type { EffectRow, ObservedSaga, SagaObservation } from './saga-observe.js';
import type { SagaPlan } from './saga-plan.js';
import { UNSUBSCRIBE_STEPS } from './unsubscribe-saga.js';

const plan: SagaPlan = {
  requests: [
    { requestId: 'unsubscribe-0', customerId: 'customer-0', plan: 'basic' },
    { requestId: 'unsubscribe-1', customerId: 'customer-1', plan: UNPRICED_PLAN },
  ],
  unpriced: 1,
};

const saga = (
  id: string,
  requestId: string,
  status: ObservedSaga['status'],
  more: Partial<ObservedSaga> = {},
) => ({
  id,
  status,
  requestId,
  reason: null,
  createdAt: 1_000,
  updatedAt: 1_500,
  startedSteps: ['profile', 'contract', 'billing'],
  compensated: [],
  operatorActions: 0,
  ...more,
});

const effect = (sagaId: string, step: string, customerId: string, kind: EffectRow['kind']): EffectRow => ({
  request_key: kind === EffectKind.APPLY ? `${sagaId}:${step}` : `${sagaId}:${step}:compensate`,
  action_key: `${sagaId}:${step}`,
  saga_id: sagaId,
  customer_id: customerId,
  kind,
});

/** A `SagaObservation` the tests may change. */
interface Observation extends SagaObservation {
  sagas: ObservedSaga[];
  readonly participants: Record<
    ParticipantName,
    { effects: EffectRow[]; unsubscribed: Map<string, boolean> }
  >;
}

/** s0 completed for customer-0; s1 compensated for customer-1 (billing refused, the two others undone). */
function consistentObservation(): Observation {
  const participants = {} as Record<
    ParticipantName,
    { effects: EffectRow[]; unsubscribed: Map<string, boolean> }
  >;
  for (const { step, service } of UNSUBSCRIBE_STEPS) {
    const effects = [effect('s0', step, 'customer-0', EffectKind.APPLY)];
    if (step !== 'billing') {
      effects.push(effect('s1', step, 'customer-1', EffectKind.APPLY));
      effects.push(effect('s1', step, 'customer-1', EffectKind.UNDO));
    }
    participants[service] = {
      effects,
      unsubscribed: new Map([
        ['customer-0', true],
        ['customer-1', false],
      ]),
    };
  }
  return {
    sagas: [
      saga('s0', 'unsubscribe-0', 'completed'),
      saga('s1', 'unsubscribe-1', 'compensated', { compensated: ['contract', 'profile'] }),
    ],
    participants,
  };
}

describe('checkSagas', () => {
  it('passes a run where one saga completed and the unpriced one was compensated', () => {
    const verdict = checkSagas(consistentObservation(), plan);
    expect(verdict.problems).toEqual([]);
    expect(verdict.ok).toBe(true);
    expect(verdict.sagas).toMatchObject({ completed: 1, compensated: 1, running: 0 });
    expect(verdict.consistencyTimesMs).toEqual([500, 500]);
  });

  it('counts an effect applied twice for one idempotency key', () => {
    const observation = consistentObservation();
    observation.participants['billing-payment'].effects.push(
      effect('s0', 'billing', 'customer-0', EffectKind.APPLY),
    );
    const verdict = checkSagas(observation, plan);
    expect(verdict.duplicateEffects).toBe(1);
    expect(verdict.ok).toBe(false);
  });

  it('fails a compensated saga that left a part in force', () => {
    const observation = consistentObservation();
    observation.participants['support-contract'].unsubscribed.set('customer-1', true);
    const verdict = checkSagas(observation, plan);
    expect(verdict.stateMismatches['support-contract']).toBe(1);
    expect(verdict.ok).toBe(false);
  });

  it('fails undoing out of reverse order, and undoing a step never started', () => {
    for (const more of [
      { compensated: ['profile', 'contract'] },
      { compensated: ['contract', 'profile'], startedSteps: ['profile'] },
    ]) {
      const observation = consistentObservation();
      observation.sagas[1] = saga('s1', 'unsubscribe-1', 'compensated', more);
      expect(checkSagas(observation, plan).orderViolations).toBe(1);
    }
  });

  it('fails a saga that completed although its customer is on the unpriced plan', () => {
    const observation = consistentObservation();
    for (const { step, service } of UNSUBSCRIBE_STEPS) {
      const part = observation.participants[service];
      part.unsubscribed.set('customer-1', true);
      part.effects = [
        ...part.effects.filter((row) => row.saga_id !== 's1'),
        effect('s1', step, 'customer-1', EffectKind.APPLY),
      ];
    }
    observation.sagas[1] = saga('s1', 'unsubscribe-1', 'completed');
    const verdict = checkSagas(observation, plan);
    expect(verdict.stateMismatches.orchestrator).toBe(1);
    expect(verdict.ok).toBe(false);
  });

  it('fails a lost saga, a saga waiting for a person, and an operator intervention', () => {
    const lost = consistentObservation();
    lost.sagas = lost.sagas.slice(0, 1);
    expect(checkSagas(lost, plan)).toMatchObject({ lost: 1, ok: false });

    const waiting = consistentObservation();
    waiting.sagas[1] = saga('s1', 'unsubscribe-1', 'needs-attention', {
      reason: 'compensation of profile kept failing',
    });
    const verdict = checkSagas(waiting, plan);
    expect(verdict.ok).toBe(false);
    expect(verdict.sagas['needs-attention']).toBe(1);
    expect(verdict.problems.join('\n')).toContain('needs-attention: compensation of profile kept failing');

    const manual = consistentObservation();
    manual.sagas[1] = saga('s1', 'unsubscribe-1', 'compensated', {
      compensated: ['contract', 'profile'],
      operatorActions: 1,
    });
    expect(checkSagas(manual, plan)).toMatchObject({ manualActions: 1, ok: false });
  });
});
