/**
 * What both `SagaStore` adapters share: the record a `start` answers with, rows read back as
 * records and transitions (each backend says how it stores JSON, times and tokens), counts by
 * status. Adapters never import each other; they import this.
 */
import { RetryableError } from '../core/errors.js';
import {
  type SagaRecord,
  type SagaRecordOptions,
  type SagaStart,
  SagaStatus,
  type SagaTransition,
  type SagaWrite,
  type SagaWrites,
  TERMINAL_SAGA_STATUSES,
} from '../ports/saga-store.js';

/** How one backend stores a saga's JSON, times and fencing tokens. */
export interface SagaColumnCodec {
  json(value: unknown): unknown;
  date(value: unknown): Date;
  token(value: unknown): number;
}

/** A `converge_saga` / `converge.saga` row as the driver returns it. */
export type SagaRow = Readonly<Record<string, unknown>>;

const nullable = <T>(value: unknown, read: (value: unknown) => T): T | null =>
  value === null || value === undefined ? null : read(value);

/** A saga row as the port's record. */
export function toSagaRecord(row: SagaRow, codec: SagaColumnCodec): SagaRecord {
  return {
    id: row.id as string,
    name: row.name as string,
    version: row.version as number,
    status: row.status as SagaStatus,
    idempotencyKey: row.idempotency_key as string | null,
    input: codec.json(row.input),
    snapshot: codec.json(row.snapshot),
    wakeAt: nullable(row.wake_at, codec.date),
    reason: row.reason as string | null,
    fencingToken: codec.token(row.fencing_token),
    leaseOwner: row.lease_owner as string | null,
    leaseExpiresAt: nullable(row.lease_expires_at, codec.date),
    transitions: row.transitions as number,
    createdAt: codec.date(row.created_at),
    updatedAt: codec.date(row.updated_at),
  };
}

/** A transition-log row as the port's transition. */
export function toSagaTransition(row: SagaRow, codec: SagaColumnCodec): SagaTransition {
  return {
    sagaId: row.saga_id as string,
    seq: row.seq as number,
    kind: row.kind as string,
    step: row.step as string | null,
    attempt: row.attempt as number | null,
    status: row.status as SagaStatus,
    detail: nullable(row.detail, codec.json),
    fencingToken: codec.token(row.fencing_token),
    at: codec.date(row.at),
  };
}

/** Every status, with the counts found (0 for the others). */
export function sagaCounts(
  rows: readonly { readonly status: string; readonly n: number }[],
): Record<SagaStatus, number> {
  const counts = Object.fromEntries(Object.values(SagaStatus).map((status) => [status, 0]));
  for (const row of rows) counts[row.status] = row.n;
  return counts as Record<SagaStatus, number>;
}

/** The sort key of claims: no `wakeAt` first, then the earliest, then the oldest. */
export function byClaimOrder(a: SagaRecord, b: SagaRecord): number {
  const wake = (record: SagaRecord) => record.wakeAt?.getTime() ?? Number.NEGATIVE_INFINITY;
  return wake(a) - wake(b) || a.createdAt.getTime() - b.createdAt.getTime();
}

/**
 * The record a `start` just inserted, built from the start itself rather than read back (one
 * round trip fewer): `running`, one transition (`started`), runnable now (token 0, no lease) or
 * held by the start's lease (token 1).
 */
export function startedSagaRecord(start: SagaStart): SagaRecord {
  const { id, name, version, idempotencyKey, input, snapshot, lease } = start;
  return {
    id,
    name,
    version,
    status: SagaStatus.RUNNING,
    idempotencyKey,
    input,
    snapshot,
    wakeAt: null,
    reason: null,
    fencingToken: startFencingToken(start),
    leaseOwner: lease?.owner ?? null,
    leaseExpiresAt: lease?.expiresAt ?? null,
    transitions: 1,
    createdAt: start.at,
    updatedAt: start.at,
  };
}

/** A new saga's fencing token: 1 when its start claimed it (`SagaStart.lease`), as a first claim gives. */
export const startFencingToken = (start: SagaStart): number => (start.lease === undefined ? 0 : 1);

/**
 * A start whose idempotency key conflicted, but whose conflicting saga could not be read (it was
 * deleted in between, or the caller's transaction cannot see it): starting again resolves it.
 */
export function startConflictLost(start: SagaStart): RetryableError {
  return new RetryableError(
    `Saga '${start.name}' with idempotency key '${start.idempotencyKey}' conflicted with an existing instance that could not be read back; start it again (in a READ COMMITTED transaction).`,
    { code: 'SAGA_START_CONFLICT', details: { name: start.name, idempotencyKey: start.idempotencyKey } },
  );
}

/**
 * What a `record` call writes: its transitions as a list, and whether the statement gives the
 * lease up (asked to, or the last status is terminal).
 */
export function recordedWrites(
  write: SagaWrite | SagaWrites,
  options: SagaRecordOptions = {},
): { readonly writes: SagaWrites; readonly release: boolean } {
  const writes: SagaWrites = isWriteList(write) ? write : [write];
  const last = writes[writes.length - 1]!;
  return { writes, release: options.release === true || TERMINAL_SAGA_STATUSES.has(last.status) };
}

function isWriteList(write: SagaWrite | SagaWrites): write is SagaWrites {
  return Array.isArray(write);
}
