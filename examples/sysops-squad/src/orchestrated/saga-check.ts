/**
 * The orchestrated demo's verdict, from what the databases hold (see `saga-observe.ts`) and the
 * plan: every planned saga exists and ended `completed` or `compensated`; each participant applied
 * each step's effect at most once (its effect table has one row per idempotency key); a completed
 * saga's three parts are in force; a compensated saga left none of its parts in force, undid them
 * in reverse order, and undid only steps that had started; a customer on the unpriced plan was
 * never fully unsubscribed; and nobody intervened by hand.
 */
import { SagaStatus } from '@converge/core';
import { UNPRICED_PLAN } from '../demo/plan.js';
import { EffectKind, type ParticipantName } from './participant-server.js';
import type { ObservedSaga, SagaObservation } from './saga-observe.js';
import type { SagaPlan, UnsubscribeRequest } from './saga-plan.js';
import { UNSUBSCRIBE_STEPS } from './unsubscribe-saga.js';

/** Sagas by status. */
export type SagaCounts = Readonly<Record<SagaStatus, number>>;

export interface SagaVerdict {
  readonly ok: boolean;
  /** Planned sagas the orchestrator's database does not hold. */
  readonly lost: number;
  /** Effect-table rows beyond the first for one idempotency key. */
  readonly duplicateEffects: number;
  /** Compensated sagas whose undoing was out of reverse order, or undid a step never started. */
  readonly orderViolations: number;
  /** Per participant: customers whose state contradicts their saga's end; `orchestrator`: sagas that should not exist or should not have completed. */
  readonly stateMismatches: Readonly<Record<string, number>>;
  readonly manualActions: number;
  readonly sagas: SagaCounts;
  /** From each saga's start to its end, in ms (the ended ones). */
  readonly consistencyTimesMs: readonly number[];
  /** The first problems found, in words. */
  readonly problems: readonly string[];
}

const MAX_PROBLEMS = 20;
const ENDED_WELL: ReadonlySet<string> = new Set([SagaStatus.COMPLETED, SagaStatus.COMPENSATED]);

export function checkSagas(observation: SagaObservation, plan: SagaPlan): SagaVerdict {
  const problems: string[] = [];
  const problem = (text: string) => {
    if (problems.length < MAX_PROBLEMS) problems.push(text);
  };
  const mismatches: Record<string, number> = { orchestrator: 0 };
  for (const { service } of UNSUBSCRIBE_STEPS) mismatches[service] = 0;
  const byRequest = new Map(observation.sagas.map((saga) => [saga.requestId, saga]));
  const planned = new Map(plan.requests.map((request) => [request.requestId, request]));
  for (const saga of observation.sagas) {
    if (saga.requestId === null || !planned.has(saga.requestId)) {
      mismatches.orchestrator! += 1;
      problem(`saga ${saga.id} (start key ${saga.requestId}) was never planned`);
    }
  }
  let lost = 0;
  let orderViolations = 0;
  for (const request of plan.requests) {
    const saga = byRequest.get(request.requestId);
    if (saga === undefined) {
      lost += 1;
      problem(`no saga for ${request.requestId} (${request.customerId})`);
      continue;
    }
    if (!ENDED_WELL.has(saga.status)) {
      problem(
        `saga ${saga.id} (${request.customerId}) is ${saga.status}${saga.reason ? `: ${saga.reason}` : ''}`,
      );
      continue;
    }
    for (const service of checkParts(observation, saga, request)) {
      mismatches[service]! += 1;
      problem(`saga ${saga.id} ended ${saga.status}, but ${service} disagrees for ${request.customerId}`);
    }
    if (saga.status === SagaStatus.COMPLETED && request.plan === UNPRICED_PLAN) {
      mismatches.orchestrator! += 1;
      problem(`saga ${saga.id} completed although ${request.customerId} is on the unpriced plan`);
    }
    if (saga.status === SagaStatus.COMPENSATED && !undoneInReverse(saga)) {
      orderViolations += 1;
      problem(
        `saga ${saga.id} undid [${saga.compensated.join(', ')}] after starting [${saga.startedSteps.join(', ')}]`,
      );
    }
  }
  const duplicateEffects = countDuplicates(observation, problem);
  const manualActions = observation.sagas.reduce((sum, saga) => sum + saga.operatorActions, 0);
  const sagas = countByStatus(observation.sagas);
  const ok =
    lost === 0 &&
    duplicateEffects === 0 &&
    orderViolations === 0 &&
    manualActions === 0 &&
    Object.values(mismatches).every((n) => n === 0) &&
    observation.sagas.length === plan.requests.length &&
    observation.sagas.every((saga) => ENDED_WELL.has(saga.status));
  return {
    ok,
    lost,
    duplicateEffects,
    orderViolations,
    stateMismatches: mismatches,
    manualActions,
    sagas,
    consistencyTimesMs: observation.sagas
      .filter((saga) => ENDED_WELL.has(saga.status))
      .map((saga) => saga.updatedAt - saga.createdAt),
    problems,
  };
}

/**
 * The participants whose part disagrees with the saga's end: completed — applied once, not
 * undone, in force; compensated — as often undone as applied, not in force.
 */
function checkParts(observation: SagaObservation, saga: ObservedSaga, request: UnsubscribeRequest) {
  const disagree: ParticipantName[] = [];
  for (const { step, service } of UNSUBSCRIBE_STEPS) {
    const { effects, unsubscribed } = observation.participants[service];
    const actionKey = `${saga.id}:${step}`;
    const count = (kind: EffectKind) =>
      effects.filter((row) => row.action_key === actionKey && row.kind === kind).length;
    const applied = count(EffectKind.APPLY);
    const undone = count(EffectKind.UNDO);
    const inForce = unsubscribed.get(request.customerId);
    const agrees =
      saga.status === SagaStatus.COMPLETED
        ? applied === 1 && undone === 0 && inForce === true
        : applied === undone && inForce === false;
    if (!agrees) disagree.push(service);
  }
  return disagree;
}

/** Compensations ran last step first, and only for steps that had been started. */
function undoneInReverse(saga: ObservedSaga): boolean {
  const index = (step: string) => UNSUBSCRIBE_STEPS.findIndex((entry) => entry.step === step);
  return saga.compensated.every(
    (step, i) =>
      saga.startedSteps.includes(step) && (i === 0 || index(step) < index(saga.compensated[i - 1]!)),
  );
}

function countDuplicates(observation: SagaObservation, problem: (text: string) => void): number {
  let duplicates = 0;
  for (const [service, { effects }] of Object.entries(observation.participants)) {
    const perKey = new Map<string, number>();
    for (const row of effects) perKey.set(row.request_key, (perKey.get(row.request_key) ?? 0) + 1);
    for (const [key, rows] of perKey) {
      if (rows < 2) continue;
      duplicates += rows - 1;
      problem(`${service} applied ${key} ${rows} times`);
    }
  }
  return duplicates;
}

function countByStatus(sagas: readonly ObservedSaga[]): SagaCounts {
  const counts = Object.fromEntries(Object.values(SagaStatus).map((status) => [status, 0])) as Record<
    SagaStatus,
    number
  >;
  for (const saga of sagas) counts[saga.status] += 1;
  return counts;
}
