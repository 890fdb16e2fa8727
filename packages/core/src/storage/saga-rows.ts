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
 * What a `start` inserts, built from the start itself rather than read back (one round trip
 * fewer): the record — `running`, runnable now (token 0, no lease), or held by the start's lease
 * (token 1) after the writes the lease records — and its log, `started` (token 0) first.
 */
export function startedSaga(start: SagaStart): {
  readonly record: SagaRecord;
  readonly log: SagaTransition[];
} {
  const { id, name, version, idempotencyKey, input, lease } = start;
  const writes = lease?.writes ?? [];
  const last = writes[writes.length - 1];
  const fencingToken = lease === undefined ? 0 : 1;
  const entry = (seq: number, write: SagaWrite, token: number): SagaTransition => ({
    sagaId: id,
    seq,
    ...write.transition,
    status: write.status,
    fencingToken: token,
    at: write.at,
  });
  const started: SagaWrite = {
    status: SagaStatus.RUNNING,
    snapshot: start.snapshot,
    wakeAt: null,
    reason: null,
    at: start.at,
    transition: { kind: 'started', step: null, attempt: null, detail: null },
  };
  const log = [entry(1, started, 0), ...writes.map((write, i) => entry(i + 2, write, fencingToken))];
  const now = last ?? started;
  return {
    record: {
      id,
      name,
      version,
      status: now.status,
      idempotencyKey,
      input,
      snapshot: now.snapshot,
      wakeAt: now.wakeAt,
      reason: now.reason,
      fencingToken,
      leaseOwner: lease?.owner ?? null,
      leaseExpiresAt: lease?.expiresAt ?? null,
      transitions: log.length,
      createdAt: start.at,
      updatedAt: now.at,
    },
    log,
  };
}

/** The columns a start inserts, in the order of `startColumnValues`. */
export const START_COLUMNS = `id, name, version, status, idempotency_key, input, snapshot, wake_at, reason,
  transitions, created_at, updated_at, fencing_token, lease_owner, lease_expires_at`;

/** A started saga's row, in `START_COLUMNS` order: JSON as text, times as `time` stores them. */
export function startColumnValues(record: SagaRecord, time: (at: Date) => unknown): unknown[] {
  const json = (value: unknown): string => JSON.stringify(value ?? null);
  const nullableTime = (at: Date | null): unknown => (at === null ? null : time(at));
  return [
    record.id,
    record.name,
    record.version,
    record.status,
    record.idempotencyKey,
    json(record.input),
    json(record.snapshot),
    nullableTime(record.wakeAt),
    record.reason,
    record.transitions,
    time(record.createdAt),
    time(record.updatedAt),
    record.fencingToken,
    record.leaseOwner,
    nullableTime(record.leaseExpiresAt),
  ];
}

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
