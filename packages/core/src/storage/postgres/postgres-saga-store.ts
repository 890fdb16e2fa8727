import { isUuid } from '../../core/ids.js';
import type {
  ClaimedSaga,
  HeldSaga,
  OrchestratorHeartbeat,
  OrchestratorPruning,
  SagaListFilter,
  SagaRecord,
  SagaRecordOptions,
  SagaStart,
  SagaStatus,
  SagaStore,
  SagaTransition,
  SagaVersions,
  SagaWrite,
  SagaWriteOutcome,
  SagaWrites,
} from '../../ports/saga-store.js';
import { SAGA_CHANNEL, type Transaction } from '../../ports/storage.js';
import {
  byClaimOrder,
  recordedWrites,
  type SagaColumnCodec,
  type SagaRow,
  START_COLUMNS,
  sagaCounts,
  startColumnValues,
  startConflictLost,
  startedSaga,
  toSagaRecord,
  toSagaTransition,
} from '../saga-rows.js';
import type { PgConnection } from './pg-connection.js';
import { toNumber } from './pg-connection.js';

/** pg parses jsonb and timestamptz itself; bigint tokens come as strings. */
const CODEC: SagaColumnCodec = { json: (value) => value, date: (value) => value as Date, token: toNumber };
const toRecord = (row: SagaRow): SagaRecord => toSagaRecord(row, CODEC);

/**
 * The row ($1 … $15 in `START_COLUMNS` order) and its log entries ($16: a JSON array of
 * {kind, step, attempt, status, detail, fencingToken, at}, `started` first) in one statement, and
 * — unless the start holds the saga itself ($14 its lease owner) — a notification on
 * `SAGA_CHANNEL` sent at commit (a scalar subquery, so that it runs); `created` is 0 when the
 * idempotency key was taken.
 */
const START = `
WITH inserted AS (
  INSERT INTO converge.saga (${START_COLUMNS})
  VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7::jsonb, $8, $9, $10, $11, $12, $13, $14, $15)
  ON CONFLICT (name, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
  RETURNING id
), logged AS (
  INSERT INTO converge.saga_transition (saga_id, seq, kind, step, attempt, status, detail, fencing_token, at)
  SELECT i.id, e.n, e.entry ->> 'kind', e.entry ->> 'step', (e.entry ->> 'attempt')::int, e.entry ->> 'status',
    NULLIF(e.entry -> 'detail', 'null'::jsonb), (e.entry ->> 'fencingToken')::bigint, (e.entry ->> 'at')::timestamptz
  FROM inserted i, jsonb_array_elements($16::jsonb) WITH ORDINALITY AS e(entry, n)
)
SELECT (SELECT count(*)::int FROM inserted) AS created,
  (SELECT count(*)::int FROM (SELECT pg_notify('${SAGA_CHANNEL}', '') FROM inserted WHERE $14::text IS NULL) notified) AS notified`;

/**
 * The columns every write sets ($2 status … $6 updated_at, from its last transition), and its log
 * entries ($7: a JSON array with one {kind, step, attempt, status, detail, at} per transition, in
 * order), numbered on from the row's `transitions` and carrying the writer's token. See
 * `writeValues`.
 */
const WRITE_SET = `status = $2, snapshot = $3::jsonb, wake_at = $4, reason = $5,
  transitions = s.transitions + jsonb_array_length($7::jsonb), updated_at = $6`;
const LOG_WRITE = `INSERT INTO converge.saga_transition (saga_id, seq, kind, step, attempt, status, detail, fencing_token, at)
  SELECT u.id, u.transitions - jsonb_array_length($7::jsonb) + e.n, e.entry ->> 'kind', e.entry ->> 'step',
    (e.entry ->> 'attempt')::int, e.entry ->> 'status', NULLIF(e.entry -> 'detail', 'null'::jsonb),
    u.fencing_token, (e.entry ->> 'at')::timestamptz
  FROM updated u, jsonb_array_elements($7::jsonb) WITH ORDINALITY AS e(entry, n)`;

/** One fenced durable write: row update + log entries, one statement; no rows when the token is stale. */
const RECORD = `
WITH updated AS (
  UPDATE converge.saga s SET ${WRITE_SET},
    lease_owner = CASE WHEN $9::boolean THEN NULL ELSE s.lease_owner END,
    lease_expires_at = CASE WHEN $9::boolean THEN NULL ELSE s.lease_expires_at END
  WHERE id = $1 AND fencing_token = $8
  RETURNING id, transitions, fencing_token
)
${LOG_WRITE}`;

/** An operator's transition: takes the token over (fencing off any holder), drops the lease. */
const INTERVENE = `
WITH updated AS (
  UPDATE converge.saga s SET ${WRITE_SET},
    fencing_token = s.fencing_token + 1, lease_owner = NULL, lease_expires_at = NULL
  WHERE id = $1 AND ($8::int IS NULL OR transitions = $8)
  RETURNING *
), logged AS (
  ${LOG_WRITE}
)
SELECT * FROM updated`;

const CLAIM = `
WITH runnable AS (
  SELECT id FROM converge.saga
  WHERE status IN ('running', 'compensating')
    AND (wake_at IS NULL OR wake_at <= $3)
    AND (lease_expires_at IS NULL OR lease_expires_at <= $3)
    AND ($5::text[] IS NULL OR (name, version) IN (SELECT * FROM unnest($5::text[], $6::int[])))
  ORDER BY wake_at NULLS FIRST, created_at
  LIMIT $4
  FOR UPDATE SKIP LOCKED
)
UPDATE converge.saga s
SET fencing_token = s.fencing_token + 1, lease_owner = $1, lease_expires_at = $2
FROM runnable WHERE s.id = runnable.id
RETURNING s.*`;

/** Every held saga's lease, extended where its token is current and its lease not released. */
const RENEW_LEASES = `
UPDATE converge.saga s SET lease_expires_at = $3
FROM unnest($1::uuid[], $2::bigint[]) AS held(id, fencing_token)
WHERE s.id = held.id AND s.fencing_token = held.fencing_token AND s.lease_owner IS NOT NULL
RETURNING s.id, s.fencing_token`;

/**
 * An orchestrator's heartbeat row, written, and in the same statement the rows of other instances
 * silent since before $7 deleted (at most $8, the longest silent first); answers the deleted ids.
 */
const HEARTBEAT = `
WITH pruned AS (
  DELETE FROM converge.saga_orchestrator WHERE orchestrator_id IN (
    SELECT orchestrator_id FROM converge.saga_orchestrator
    WHERE heartbeat_at < $7 AND orchestrator_id <> $1
    ORDER BY heartbeat_at
    LIMIT $8)
  RETURNING orchestrator_id
), beat AS (
  INSERT INTO converge.saga_orchestrator (orchestrator_id, host, pid, definitions, heartbeat_at, stopped_at)
  VALUES ($1, $2, $3, $4::jsonb, $5, $6)
  ON CONFLICT (orchestrator_id) DO UPDATE SET host = excluded.host, pid = excluded.pid,
    definitions = excluded.definitions, heartbeat_at = excluded.heartbeat_at, stopped_at = excluded.stopped_at
)
SELECT orchestrator_id FROM pruned`;

/**
 * Sagas in schema `converge` of the orchestrator's PostgreSQL database (`saga`,
 * `saga_transition`; snapshots, inputs and details are jsonb).
 *
 * Every call is one statement, so one round trip: a transition's row update and log entry are one
 * data-modifying CTE, atomic without an explicit transaction.
 *
 * Concurrency invariant: claims lock their candidates `FOR UPDATE SKIP LOCKED`, so concurrent
 * claimers take disjoint sagas, and a saga re-checked after another claimer's commit no longer
 * qualifies (its lease is live). Writes match `fencing_token = $token`; a concurrent claim or
 * intervention that committed first makes PostgreSQL re-evaluate that condition on the new row
 * version, so the stale writer updates nothing and logs nothing (`'fenced'`). Two writes with the
 * same (current) token — a holder's parallel steps — queue on the row lock and take consecutive
 * seqs. Fencing checks the token only, not the lease's expiry: a holder whose lease lapsed but
 * whom nobody replaced still holds the newest token, so its write is safe.
 *
 * JSON is stored as jsonb: values come back deep-equal (object key order may differ), and a
 * string containing U+0000 is refused by PostgreSQL.
 */
export class PostgresSagaStore implements SagaStore {
  readonly #connection: PgConnection;

  constructor(connection: PgConnection) {
    this.#connection = connection;
  }

  async start(
    start: SagaStart,
    tx?: Transaction,
  ): Promise<{ readonly record: SagaRecord; readonly created: boolean }> {
    const query = async <Row>(sql: string, params: readonly unknown[]): Promise<Row[]> =>
      tx === undefined ? (await this.#connection.query<Row>(sql, params)).rows : tx.query<Row>(sql, params);
    const started = startedSaga(start);
    const [result] = await query<{ created: number }>(START, startValues(started));
    if (result?.created === 1) return { record: started.record, created: true };
    // A separate statement: the first one's snapshot predates the conflicting commit it waited for.
    const [existing] = await query<SagaRow>(
      'SELECT * FROM converge.saga WHERE name = $1 AND idempotency_key = $2',
      [start.name, start.idempotencyKey],
    );
    if (existing === undefined) throw startConflictLost(start);
    return { record: toRecord(existing), created: false };
  }

  async claim(
    owner: string,
    leaseMs: number,
    limit: number,
    now: Date,
    runnable?: SagaVersions,
  ): Promise<ClaimedSaga[]> {
    const count = Math.trunc(limit);
    if (!(count >= 1)) return [];
    const pairs = runnable === undefined ? null : versionPairs(runnable);
    const { rows } = await this.#connection.query<SagaRow>(CLAIM, [
      owner,
      new Date(now.getTime() + leaseMs),
      now,
      count,
      pairs?.map(([name]) => name) ?? null,
      pairs?.map(([, version]) => version) ?? null,
    ]);
    return (
      rows
        .map((row) => ({ record: toRecord(row), fencingToken: toNumber(row.fencing_token) }))
        // UPDATE … RETURNING follows no ORDER BY: restore the claim order.
        .sort((a, b) => byClaimOrder(a.record, b.record))
    );
  }

  renew(id: string, fencingToken: number, leaseMs: number, now: Date): Promise<SagaWriteOutcome> {
    return this.#fenced(
      `UPDATE converge.saga SET lease_expires_at = $3
       WHERE id = $1 AND fencing_token = $2 AND lease_owner IS NOT NULL`,
      [id, fencingToken, new Date(now.getTime() + leaseMs)],
    );
  }

  async renewLeases(held: readonly HeldSaga[], leaseMs: number, now: Date): Promise<string[]> {
    // An id that is no UUID names no saga: fenced, without asking the server.
    const valid = held.filter((saga) => isUuid(saga.id));
    if (valid.length === 0) return held.map((saga) => saga.id);
    const { rows } = await this.#connection.query<{ id: string; fencing_token: unknown }>(RENEW_LEASES, [
      valid.map((saga) => saga.id),
      valid.map((saga) => saga.fencingToken),
      new Date(now.getTime() + leaseMs),
    ]);
    const renewed = new Set(rows.map((row) => heldKey(row.id, toNumber(row.fencing_token))));
    return held.filter((saga) => !renewed.has(heldKey(saga.id, saga.fencingToken))).map((saga) => saga.id);
  }

  release(id: string, fencingToken: number): Promise<SagaWriteOutcome> {
    return this.#fenced(
      'UPDATE converge.saga SET lease_owner = NULL, lease_expires_at = NULL WHERE id = $1 AND fencing_token = $2',
      [id, fencingToken],
    );
  }

  record(
    id: string,
    fencingToken: number,
    write: SagaWrite | SagaWrites,
    options?: SagaRecordOptions,
  ): Promise<SagaWriteOutcome> {
    const { writes, release } = recordedWrites(write, options);
    return this.#fenced(RECORD, [...writeValues(id, writes), fencingToken, release]);
  }

  async intervene(
    id: string,
    write: SagaWrite,
    expectedTransitions?: number,
  ): Promise<SagaRecord | 'changed' | undefined> {
    if (!isUuid(id)) return undefined;
    const { rows } = await this.#connection.query<SagaRow>(INTERVENE, [
      ...writeValues(id, [write]),
      expectedTransitions ?? null,
    ]);
    const row = rows[0];
    if (row !== undefined) return toRecord(row);
    // Nothing updated: either there is no such saga, or it moved on since it was read.
    return expectedTransitions === undefined || (await this.get(id)) === undefined ? undefined : 'changed';
  }

  async get(id: string): Promise<SagaRecord | undefined> {
    if (!isUuid(id)) return undefined;
    const { rows } = await this.#connection.query<SagaRow>('SELECT * FROM converge.saga WHERE id = $1', [id]);
    const row = rows[0];
    return row === undefined ? undefined : toRecord(row);
  }

  async list(filter: SagaListFilter): Promise<SagaRecord[]> {
    const { rows } = await this.#connection.query<SagaRow>(
      `SELECT * FROM converge.saga
       WHERE ($1::text IS NULL OR status = $1) AND ($2::text IS NULL OR name = $2)
         AND ($3::timestamptz IS NULL OR created_at >= $3)
       ORDER BY created_at DESC, id DESC
       LIMIT $4`,
      [
        filter.status ?? null,
        filter.name ?? null,
        filter.since ?? null,
        filter.limit === undefined ? null : Math.max(0, Math.trunc(filter.limit)),
      ],
    );
    return rows.map(toRecord);
  }

  async transitions(id: string): Promise<SagaTransition[]> {
    if (!isUuid(id)) return [];
    const { rows } = await this.#connection.query<SagaRow>(
      'SELECT * FROM converge.saga_transition WHERE saga_id = $1 ORDER BY seq',
      [id],
    );
    return rows.map((row) => toSagaTransition(row, CODEC));
  }

  async countByStatus(): Promise<Readonly<Record<SagaStatus, number>>> {
    const { rows } = await this.#connection.query<{ status: string; n: number }>(
      'SELECT status, count(*)::int AS n FROM converge.saga GROUP BY status',
    );
    return sagaCounts(rows);
  }

  async heartbeatOrchestrator(
    heartbeat: OrchestratorHeartbeat,
    prune?: OrchestratorPruning,
  ): Promise<string[]> {
    const { rows } = await this.#connection.query<{ orchestrator_id: string }>(HEARTBEAT, [
      heartbeat.orchestratorId,
      heartbeat.host,
      heartbeat.pid,
      json(heartbeat.definitions),
      heartbeat.at,
      heartbeat.stoppedAt,
      prune?.silentBefore ?? null,
      prune === undefined ? 0 : Math.max(0, Math.trunc(prune.limit)),
    ]);
    return rows.map((row) => row.orchestrator_id);
  }

  async listStranded(aliveSince: Date, limit: number): Promise<SagaRecord[]> {
    // `[1, 2] @> 1`: a jsonb array contains a scalar it lists.
    const { rows } = await this.#connection.query<SagaRow>(
      `SELECT * FROM converge.saga s
       WHERE s.status NOT IN ('completed', 'compensated', 'failed')
         AND NOT EXISTS (
           SELECT 1 FROM converge.saga_orchestrator o
           WHERE o.stopped_at IS NULL AND o.heartbeat_at >= $1
             AND o.definitions -> s.name @> to_jsonb(s.version))
       ORDER BY s.created_at, s.id
       LIMIT $2`,
      [aliveSince, Math.max(0, Math.trunc(limit))],
    );
    return rows.map(toRecord);
  }

  async #fenced(sql: string, params: readonly unknown[]): Promise<SagaWriteOutcome> {
    const [id] = params;
    if (typeof id !== 'string' || !isUuid(id)) return 'fenced';
    // One row updated, or as many log entries inserted as the write has: none when fenced.
    const { rowCount } = await this.#connection.query(sql, params);
    return (rowCount ?? 0) > 0 ? 'recorded' : 'fenced';
  }
}

/** The parameters of START: the new row's columns, then its log as JSON (see there). */
function startValues({ record, log }: ReturnType<typeof startedSaga>): unknown[] {
  const entries = log.map(({ sagaId: _id, seq: _seq, ...entry }) => ({
    ...entry,
    at: entry.at.toISOString(),
  }));
  return [...startColumnValues(record, (at) => at), json(entries)];
}

/** $1 id, $2 … $6 the row's columns (the last write's), $7 the log entries (see WRITE_SET, LOG_WRITE). */
function writeValues(id: string, writes: SagaWrites): unknown[] {
  const last = writes[writes.length - 1]!;
  const entries = writes.map((write) => ({
    ...write.transition,
    status: write.status,
    at: write.at.toISOString(),
  }));
  return [id, last.status, json(last.snapshot), last.wakeAt, last.reason, last.at, json(entries)];
}

/** A held saga as a set key; PostgreSQL answers uuids in lower case. */
const heldKey = (id: string, fencingToken: number): string => `${id.toLowerCase()}:${fencingToken}`;

// Stringified here: pg would turn a JS array into a PostgreSQL array literal, not JSON.
const json = (value: unknown): string => JSON.stringify(value ?? null);

/** (name, version) pairs of `runnable`, for the claim's filter. */
function versionPairs(runnable: SagaVersions): [string, number][] {
  return Object.entries(runnable).flatMap(([name, versions]) =>
    versions.map((version): [string, number] => [name, version]),
  );
}
