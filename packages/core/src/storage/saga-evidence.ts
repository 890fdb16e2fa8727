/**
 * Reading a stored saga as coupling evidence, shared by the SQLite and PostgreSQL evidence stores
 * (both hand it the same row shape; only the snapshot's encoding differs).
 */
import type { SagaEvidence } from '../ports/evidence-store.js';
import { type SagaStatus, TERMINAL_SAGA_STATUSES } from '../ports/saga-store.js';

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
