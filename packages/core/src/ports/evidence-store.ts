/**
 * What Converge has recorded in one service's database that tells how transactionally coupled it
 * is to the others: the messages its outbox committed, the receipts its inbox recorded for
 * messages from other services, its failures (dead letters, messages still retrying), and the
 * sagas it orchestrated (the services their steps called, what was undone, who had to step in). Read
 * by `converge ownership coupling`, never on the message path. Each list is bounded by `limit`
 * (newest first) so a long history cannot exhaust memory.
 */
import { type SagaStatus, TERMINAL_SAGA_STATUSES } from './saga-store.js';

/** A message this service's outbox committed. */
export interface ProducedEvidence {
  readonly messageId: string;
  readonly source: string;
  readonly type: string;
  readonly key: string;
  readonly createdAt: Date;
  /** The envelope's `correlationid`, if any. */
  readonly correlationId: string | null;
  /** The envelope's `causationid` (the message this one reacted to), if any. */
  readonly causationId: string | null;
}

/** A receipt this service's inbox recorded. */
export interface ReceiptEvidence {
  readonly consumer: string;
  readonly messageId: string;
  readonly source: string;
  /** `applied`, `ignored` or `dead-lettered`. */
  readonly outcome: string;
  readonly receivedAt: Date;
}

/** A failure on this service's inbox: a dead letter, or a message still being retried. */
export interface FailureEvidence {
  readonly consumer: string;
  /** The sending service, when the message could be read. */
  readonly source: string | null;
  /** A dead-letter reason code, or `RETRYING` for a parked message with failed attempts. */
  readonly reason: string;
  readonly attempts: number;
  readonly at: Date;
}

/** A saga this service's orchestrator ran: a business transaction across the services its steps call. */
export interface SagaEvidence {
  readonly sagaId: string;
  /** The definition's name. */
  readonly name: string;
  /** Its `SagaStatus` now. */
  readonly status: string;
  /** The services its steps call (the steps' `service`), each once, in the definition's order; steps without one are left out. */
  readonly services: readonly string[];
  /** The steps whose compensation succeeded: effects undone by hand-written code. */
  readonly compensatedSteps: readonly string[];
  /** It waits, or once waited, for a person (`needs-attention` anywhere in its transitions). */
  readonly neededAttention: boolean;
  readonly startedAt: Date;
  /** When it ended (`completed`, `compensated`, `failed`); null while it is not over. */
  readonly endedAt: Date | null;
}

export interface EvidenceStore {
  produced(since: Date, limit: number): Promise<ProducedEvidence[]>;
  receipts(since: Date, limit: number): Promise<ReceiptEvidence[]>;
  failures(since: Date, limit: number): Promise<FailureEvidence[]>;
  /** The sagas started since `since`, newest first, at most `limit`; none when the database has no saga table yet. */
  sagas(since: Date, limit: number): Promise<SagaEvidence[]>;
}

/** A saga row as both backends read it; the snapshot is the engine's JSON (text or parsed). */
export interface SagaEvidenceRow {
  readonly id: string;
  readonly name: string;
  readonly status: string;
  readonly snapshot: unknown;
  readonly neededAttention: boolean;
  readonly createdAt: Date;
  readonly updatedAt: Date;
}

/**
 * The evidence of one stored saga. The snapshot is read defensively — it is the engine's JSON, and
 * a snapshot stored before steps recorded their service (or one that cannot be read) names none —
 * so the evidence of one odd row never stops the report.
 */
export function sagaEvidenceOf(row: SagaEvidenceRow): SagaEvidence {
  const steps = stepsOf(row.snapshot);
  const services: string[] = [];
  const compensatedSteps: string[] = [];
  for (const [step, state] of steps) {
    if (typeof state.service === 'string' && !services.includes(state.service)) services.push(state.service);
    if (state.status === 'compensated') compensatedSteps.push(step);
  }
  return {
    sagaId: row.id,
    name: row.name,
    status: row.status,
    services,
    compensatedSteps,
    neededAttention: row.neededAttention,
    startedAt: row.createdAt,
    endedAt: TERMINAL_SAGA_STATUSES.has(row.status as SagaStatus) ? row.updatedAt : null,
  };
}

function stepsOf(snapshot: unknown): [string, { service?: unknown; status?: unknown }][] {
  let value = snapshot;
  if (typeof value === 'string') {
    try {
      value = JSON.parse(value);
    } catch {
      return [];
    }
  }
  const steps = (value as { steps?: unknown } | null)?.steps;
  if (typeof steps !== 'object' || steps === null) return [];
  return Object.entries(steps as Record<string, { service?: unknown; status?: unknown } | null>).flatMap(
    ([step, state]) => (typeof state === 'object' && state !== null ? [[step, state] as const] : []),
  ) as [string, { service?: unknown; status?: unknown }][];
}
