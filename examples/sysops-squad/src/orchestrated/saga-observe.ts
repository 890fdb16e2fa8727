/**
 * What the orchestrated demo reads back once the sagas have settled: every saga in the
 * orchestrator's database with the compensations its transition log recorded, and from each
 * participant's own database its effect table and whether its part of each customer's
 * unsubscription is in force. Read through each database's own storage, as an operator's tool
 * would.
 */
import { OperatorActionKind, type SagaStatus, type Storage } from '@converge/core';
import type { EffectKind, ParticipantName } from './participant-server.js';
import { EFFECT_TABLES } from './participants.js';

export interface ObservedSaga {
  readonly id: string;
  readonly status: SagaStatus;
  /** The start's idempotency key: the plan's `requestId`. */
  readonly requestId: string | null;
  readonly reason: string | null;
  readonly createdAt: number;
  readonly updatedAt: number;
  /** Steps whose action was started at least once. */
  readonly startedSteps: readonly string[];
  /** Steps whose compensation succeeded, in the order they did. */
  readonly compensated: readonly string[];
  /** Operators' actions in its transition log. */
  readonly operatorActions: number;
}

export interface EffectRow {
  readonly request_key: string;
  readonly action_key: string;
  readonly saga_id: string;
  readonly customer_id: string;
  readonly kind: EffectKind;
}

export interface ParticipantObservation {
  readonly effects: readonly EffectRow[];
  /** Customer → whether the service's part of the unsubscription is in force now. */
  readonly unsubscribed: ReadonlyMap<string, boolean>;
}

export interface SagaObservation {
  readonly sagas: readonly ObservedSaga[];
  readonly participants: Readonly<Record<ParticipantName, ParticipantObservation>>;
}

/** The SQL that tells, per customer, whether a service's part is in force (constants only). */
const IN_FORCE: Readonly<Record<ParticipantName, string>> = {
  'customer-profile':
    "SELECT id AS customer_id, CASE WHEN status = 'unsubscribed' THEN 1 ELSE 0 END AS done FROM customer",
  'support-contract':
    "SELECT customer_id, CASE WHEN status = 'ended' THEN 1 ELSE 0 END AS done FROM contract",
  'billing-payment': 'SELECT customer_id, CASE WHEN active = 0 THEN 1 ELSE 0 END AS done FROM billing',
};

const read = <Row>(storage: Storage, sql: string) => storage.transaction((tx) => tx.query<Row>(sql));

const OPERATOR_KINDS: ReadonlySet<string> = new Set(Object.values(OperatorActionKind));

export async function observeSagas(
  orchestrator: Storage,
  participants: Readonly<Record<ParticipantName, Storage>>,
): Promise<SagaObservation> {
  const sagas: ObservedSaga[] = [];
  for (const record of await orchestrator.sagas.list({})) {
    const transitions = await orchestrator.sagas.transitions(record.id);
    const stepsOf = (kind: string) =>
      transitions.filter((t) => t.kind === kind && t.step !== null).map((t) => t.step as string);
    sagas.push({
      id: record.id,
      status: record.status,
      requestId: record.idempotencyKey,
      reason: record.reason,
      createdAt: record.createdAt.getTime(),
      updatedAt: record.updatedAt.getTime(),
      startedSteps: [...new Set(stepsOf('step-started'))],
      compensated: stepsOf('compensation-succeeded'),
      operatorActions: transitions.filter((t) => OPERATOR_KINDS.has(t.kind)).length,
    });
  }
  const observed = {} as Record<ParticipantName, ParticipantObservation>;
  for (const [service, storage] of Object.entries(participants) as [ParticipantName, Storage][]) {
    const effects = await read<EffectRow>(
      storage,
      `SELECT request_key, action_key, saga_id, customer_id, kind FROM ${EFFECT_TABLES[service]}`,
    );
    const rows = await read<{ customer_id: string; done: number | string }>(storage, IN_FORCE[service]);
    observed[service] = {
      effects,
      unsubscribed: new Map(rows.map((row) => [row.customer_id, Number(row.done) === 1])),
    };
  }
  return { sagas, participants: observed };
}
