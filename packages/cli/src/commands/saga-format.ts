/** How `converge saga` prints sagas for people: a list, and one saga's steps and timeline. */
import type { SagaRecord, SagaTransition } from '@converge/core';
import { table } from './dlq-format.js';

const clip = (text: string, max: number) => (text.length > max ? `${text.slice(0, max - 1)}…` : text);
const iso = (date: Date | null) => (date === null ? '-' : date.toISOString());

/** A saga as `saga list --json` gives it: the record without its input and snapshot (`saga show` has them). */
export type SagaSummary = Omit<SagaRecord, 'input' | 'snapshot'>;

/** The record without its input and snapshot. */
export function sagaSummary(record: SagaRecord): SagaSummary {
  const { input: _input, snapshot: _snapshot, ...summary } = record;
  return summary;
}

/** The holder of the saga's lease, when the lease has not expired at `now`. */
function leaseOf(record: SagaRecord, now: Date): string {
  if (record.leaseOwner === null || record.leaseExpiresAt === null) return '-';
  if (record.leaseExpiresAt.getTime() <= now.getTime()) return '-';
  return `${record.leaseOwner} until ${record.leaseExpiresAt.toISOString()}`;
}

/** One line per saga, newest first. */
export function sagaTable(records: readonly SagaRecord[], now: Date): string {
  if (records.length === 0) return 'No sagas match.';
  return table(
    ['ID', 'NAME', 'VERSION', 'STATUS', 'STARTED', 'UPDATED', 'LEASE', 'REASON'],
    records.map((saga) => [
      saga.id,
      saga.name,
      String(saga.version),
      saga.status,
      saga.createdAt.toISOString(),
      saga.updatedAt.toISOString(),
      leaseOf(saga, now),
      clip(saga.reason ?? '-', 80),
    ]),
  );
}

/** The fields of a step's state `saga show` prints (the engine's snapshot, read defensively). */
interface StepView {
  readonly status?: string;
  readonly attempts?: number;
  readonly compensationAttempts?: number;
  readonly lastError?: { readonly errorClass?: string; readonly message?: string } | null;
}

function stepsOf(snapshot: unknown): [string, StepView][] {
  const steps = (snapshot as { steps?: unknown } | null)?.steps;
  if (typeof steps !== 'object' || steps === null) return [];
  return Object.entries(steps as Record<string, StepView>);
}

/** A transition's detail in a few words: who and why, the error, the output, the attempt's deadline. */
export function describeDetail(detail: unknown): string {
  if (typeof detail !== 'object' || detail === null) return detail === null ? '' : JSON.stringify(detail);
  const d = detail as Record<string, unknown>;
  if (typeof d.actor === 'string') return `by ${d.actor}: ${String(d.reason)}`;
  const parts: string[] = [];
  if (typeof d.errorClass === 'string') parts.push(`${d.errorClass}: ${String(d.message)}`);
  if (typeof d.retryAt === 'string') parts.push(`retry at ${d.retryAt}`);
  if (d.givenUp !== undefined)
    parts.push(`given up${typeof d.givenUp === 'string' ? ` (${d.givenUp})` : ''}`);
  if (Array.isArray(d.undone)) parts.push(`undone so far: ${d.undone.join(', ') || 'nothing'}`);
  if (typeof d.deadline === 'string')
    parts.push(`deadline ${d.deadline}${d.reissue === true ? ', re-issued' : ''}`);
  if ('output' in d) parts.push(`output ${clip(JSON.stringify(d.output) ?? 'null', 60)}`);
  if (parts.length > 0) return parts.join('; ');
  return Object.keys(d).length === 0 ? '' : clip(JSON.stringify(d), 80);
}

/** One saga: its fields, its steps as the snapshot has them, and its transition log in order. */
export function sagaDetail(record: SagaRecord, transitions: readonly SagaTransition[], now: Date): string {
  const fields: [string, string][] = [
    ['id', record.id],
    ['saga', `${record.name} version ${record.version}`],
    ['status', record.status],
    ['reason', record.reason ?? '-'],
    ['idempotency key', record.idempotencyKey ?? '-'],
    ['started / updated', `${record.createdAt.toISOString()} / ${record.updatedAt.toISOString()}`],
    ['runnable at', record.wakeAt === null ? 'now' : record.wakeAt.toISOString()],
    ['lease', `${leaseOf(record, now)} (fencing token ${record.fencingToken})`],
    ['input', clip(JSON.stringify(record.input) ?? 'null', 200)],
  ];
  const width = Math.max(...fields.map(([name]) => name.length));
  const steps = stepsOf(record.snapshot).map(([name, step]) => [
    name,
    step.status ?? '?',
    String(step.attempts ?? 0),
    String(step.compensationAttempts ?? 0),
    step.lastError ? clip(`${step.lastError.errorClass}: ${step.lastError.message}`, 80) : '-',
  ]);
  return [
    ...fields.map(([name, value]) => `${name.padEnd(width)}  ${value}`),
    '',
    'Steps:',
    table(['STEP', 'STATUS', 'ATTEMPTS', 'COMPENSATION ATTEMPTS', 'LAST ERROR'], steps),
    '',
    'Timeline:',
    table(
      ['SEQ', 'AT', 'EVENT', 'STEP', 'ATTEMPT', 'STATUS', 'DETAIL'],
      transitions.map((t) => [
        String(t.seq),
        iso(t.at),
        t.kind,
        t.step ?? '-',
        t.attempt === null ? '-' : String(t.attempt),
        t.status,
        describeDetail(t.detail),
      ]),
    ),
  ].join('\n');
}
