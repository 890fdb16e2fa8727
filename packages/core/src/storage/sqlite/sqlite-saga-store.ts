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
import type { Transaction } from '../../ports/storage.js';
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
import type { StatementCache } from './sqlite-executor.js';
import type { SqliteConnection } from './sqlite-storage.js';

/** JSON as its text, times as ms since the epoch, tokens as integers. */
const CODEC: SagaColumnCodec = {
  json: (value) => JSON.parse(value as string),
  date: (value) => new Date(value as number),
  token: (value) => value as number,
};
const toRecord = (row: SagaRow): SagaRecord => toSagaRecord(row, CODEC);

const SAVEPOINT = 'converge_saga_start';

const INSERT_TRANSITION = `INSERT INTO converge_saga_transition
  (saga_id, seq, kind, step, attempt, status, detail, fencing_token, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`;

/** True when the JSON {name: [versions]} in `$registry` lists the saga row's name and version. */
const REGISTERED = `EXISTS (SELECT 1 FROM json_each($registry) d, json_each(d.value) v
  WHERE d.key = converge_saga.name AND v.value = converge_saga.version)`;

/**
 * Sagas in a SQLite file (`converge_saga`, `converge_saga_transition`; times are ms since the
 * epoch, JSON is its text).
 *
 * Concurrency: every write runs in `BEGIN IMMEDIATE`, so SQLite's single writer makes each claim
 * (one `UPDATE … RETURNING`) and each fenced write (`UPDATE … WHERE fencing_token = ?`, then the
 * log entry) atomic against every other process sharing the file. Fencing checks the token only,
 * not the lease's expiry: a holder whose lease lapsed but whom nobody replaced still holds the
 * newest token, so its write is safe; once another instance claims, the token moves on and the
 * late write is refused (`'fenced'`) with nothing written.
 */
export class SqliteSagaStore implements SagaStore {
  readonly #connection: SqliteConnection;

  constructor(connection: SqliteConnection) {
    this.#connection = connection;
  }

  async start(
    start: SagaStart,
    tx?: Transaction,
  ): Promise<{ readonly record: SagaRecord; readonly created: boolean }> {
    if (tx !== undefined) return startIn(tx, start, true);
    return this.#connection.transaction((own) => startIn(own, start, false));
  }

  async claim(
    owner: string,
    leaseMs: number,
    limit: number,
    now: Date,
    runnable?: SagaVersions,
  ): Promise<ClaimedSaga[]> {
    const at = now.getTime();
    const count = Math.trunc(limit);
    if (!(count >= 1)) return [];
    const filter = runnable === undefined ? null : JSON.stringify(runnable);
    return this.#connection.transaction((_tx, statements) =>
      statements
        .all<SagaRow>(
          `UPDATE converge_saga SET fencing_token = fencing_token + 1, lease_owner = ?, lease_expires_at = ?
           WHERE id IN (
             SELECT id FROM converge_saga
             WHERE status IN ('running', 'compensating')
               AND (wake_at IS NULL OR wake_at <= ?)
               AND (lease_expires_at IS NULL OR lease_expires_at <= ?)
               AND (? IS NULL OR ${REGISTERED.replace('$registry', '?')})
             ORDER BY wake_at, created_at
             LIMIT ?)
           RETURNING *`,
          [owner, at + leaseMs, at, at, filter, filter, count],
        )
        .map((row) => ({ record: toRecord(row), fencingToken: row.fencing_token as number }))
        // RETURNING follows no ORDER BY: restore the claim order.
        .sort((a, b) => byClaimOrder(a.record, b.record)),
    );
  }

  renew(id: string, fencingToken: number, leaseMs: number, now: Date): Promise<SagaWriteOutcome> {
    return this.#fenced(
      'UPDATE converge_saga SET lease_expires_at = ? WHERE id = ? AND fencing_token = ? AND lease_owner IS NOT NULL',
      [now.getTime() + leaseMs, id, fencingToken],
    );
  }

  renewLeases(held: readonly HeldSaga[], leaseMs: number, now: Date): Promise<string[]> {
    if (held.length === 0) return Promise.resolve([]);
    const pairs = JSON.stringify(held.map((saga) => [saga.id, saga.fencingToken]));
    return this.#connection.transaction((_tx, statements) => {
      const renewed = new Set(
        statements
          .all<{ id: string; fencing_token: number }>(
            `UPDATE converge_saga SET lease_expires_at = ?
             WHERE lease_owner IS NOT NULL
               AND (id, fencing_token) IN (SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]') FROM json_each(?))
             RETURNING id, fencing_token`,
            [now.getTime() + leaseMs, pairs],
          )
          .map((row) => `${row.fencing_token}:${row.id}`),
      );
      return held.filter((saga) => !renewed.has(`${saga.fencingToken}:${saga.id}`)).map((saga) => saga.id);
    });
  }

  release(id: string, fencingToken: number): Promise<SagaWriteOutcome> {
    return this.#fenced(
      'UPDATE converge_saga SET lease_owner = NULL, lease_expires_at = NULL WHERE id = ? AND fencing_token = ?',
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
    const last = writes[writes.length - 1]!;
    return this.#connection.transaction((_tx, statements) => {
      const released = release ? 1 : 0;
      const row = statements.get<{ transitions: number }>(
        `UPDATE converge_saga SET status = ?, snapshot = ?, wake_at = ?, reason = ?,
           transitions = transitions + ?, updated_at = ?,
           lease_owner = CASE WHEN ? THEN NULL ELSE lease_owner END,
           lease_expires_at = CASE WHEN ? THEN NULL ELSE lease_expires_at END
         WHERE id = ? AND fencing_token = ?
         RETURNING transitions`,
        [...rowValues(last, writes.length), released, released, id, fencingToken],
      );
      if (row === undefined) return 'fenced';
      const first = row.transitions - writes.length + 1;
      for (const [i, entry] of writes.entries())
        insertTransition(statements, id, first + i, fencingToken, entry);
      return 'recorded';
    });
  }

  intervene(
    id: string,
    write: SagaWrite,
    expectedTransitions?: number,
  ): Promise<SagaRecord | 'changed' | undefined> {
    return this.#connection.transaction((_tx, statements) => {
      const expected = expectedTransitions ?? null;
      const row = statements.get<SagaRow>(
        `UPDATE converge_saga SET status = ?, snapshot = ?, wake_at = ?, reason = ?,
           transitions = transitions + ?, updated_at = ?,
           fencing_token = fencing_token + 1, lease_owner = NULL, lease_expires_at = NULL
         WHERE id = ? AND (? IS NULL OR transitions = ?)
         RETURNING *`,
        [...rowValues(write, 1), id, expected, expected],
      );
      if (row === undefined) {
        // Nothing updated: either there is no such saga, or it moved on since it was read.
        const exists = statements.get('SELECT 1 AS found FROM converge_saga WHERE id = ?', [id]);
        return exists === undefined || expected === null ? undefined : 'changed';
      }
      insertTransition(statements, id, row.transitions as number, row.fencing_token as number, write);
      return toRecord(row);
    });
  }

  get(id: string): Promise<SagaRecord | undefined> {
    return this.#connection.use((statements) => {
      const row = statements.get<SagaRow>('SELECT * FROM converge_saga WHERE id = ?', [id]);
      return row === undefined ? undefined : toRecord(row);
    });
  }

  list(filter: SagaListFilter): Promise<SagaRecord[]> {
    return this.#connection.use((statements) =>
      statements
        .all<SagaRow>(
          `SELECT * FROM converge_saga
           WHERE (? IS NULL OR status = ?) AND (? IS NULL OR name = ?) AND (? IS NULL OR created_at >= ?)
           ORDER BY created_at DESC, id DESC
           LIMIT ?`,
          [
            ...[filter.status ?? null, filter.name ?? null, filter.since?.getTime() ?? null].flatMap((v) => [
              v,
              v,
            ]),
            filter.limit === undefined ? -1 : Math.max(0, Math.trunc(filter.limit)),
          ],
        )
        .map(toRecord),
    );
  }

  transitions(id: string): Promise<SagaTransition[]> {
    return this.#connection.use((statements) =>
      statements
        .all<SagaRow>('SELECT * FROM converge_saga_transition WHERE saga_id = ? ORDER BY seq', [id])
        .map((row) => toSagaTransition(row, CODEC)),
    );
  }

  countByStatus(): Promise<Readonly<Record<SagaStatus, number>>> {
    return this.#connection.use((statements) =>
      sagaCounts(
        statements.all<{ status: string; n: number }>(
          'SELECT status, count(*) AS n FROM converge_saga GROUP BY status',
        ),
      ),
    );
  }

  heartbeatOrchestrator(heartbeat: OrchestratorHeartbeat, prune?: OrchestratorPruning): Promise<string[]> {
    return this.#connection.transaction((_tx, statements) => {
      statements.run(
        `INSERT INTO converge_saga_orchestrator (orchestrator_id, host, pid, definitions, heartbeat_at, stopped_at)
         VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT (orchestrator_id) DO UPDATE SET host = excluded.host, pid = excluded.pid,
           definitions = excluded.definitions, heartbeat_at = excluded.heartbeat_at, stopped_at = excluded.stopped_at`,
        [
          heartbeat.orchestratorId,
          heartbeat.host,
          heartbeat.pid,
          json(heartbeat.definitions),
          heartbeat.at.getTime(),
          heartbeat.stoppedAt?.getTime() ?? null,
        ],
      );
      if (prune === undefined) return [];
      return statements
        .all<{ orchestrator_id: string }>(
          `DELETE FROM converge_saga_orchestrator WHERE orchestrator_id IN (
             SELECT orchestrator_id FROM converge_saga_orchestrator
             WHERE heartbeat_at < ? AND orchestrator_id <> ?
             ORDER BY heartbeat_at
             LIMIT ?)
           RETURNING orchestrator_id`,
          [prune.silentBefore.getTime(), heartbeat.orchestratorId, Math.max(0, Math.trunc(prune.limit))],
        )
        .map((row) => row.orchestrator_id);
    });
  }

  listStranded(aliveSince: Date, limit: number): Promise<SagaRecord[]> {
    return this.#connection.use((statements) =>
      statements
        .all<SagaRow>(
          `SELECT * FROM converge_saga
           WHERE status NOT IN ('completed', 'compensated', 'failed')
             AND NOT EXISTS (
               SELECT 1 FROM converge_saga_orchestrator o
               WHERE o.stopped_at IS NULL AND o.heartbeat_at >= ?
                 AND ${REGISTERED.replace('$registry', 'o.definitions')})
           ORDER BY created_at, id
           LIMIT ?`,
          [aliveSince.getTime(), Math.max(0, Math.trunc(limit))],
        )
        .map(toRecord),
    );
  }

  #fenced(sql: string, params: readonly unknown[]): Promise<SagaWriteOutcome> {
    return this.#connection.transaction((_tx, statements) =>
      statements.run(sql, params) === 1 ? 'recorded' : 'fenced',
    );
  }
}

/**
 * The insert of the row and of its `started` entry, in `tx`. Joining a caller's transaction, it
 * runs inside a savepoint: SQLite undoes only the failed statement, and a caller who catches the
 * error and commits must not keep a saga without its log.
 */
async function startIn(
  tx: Transaction,
  start: SagaStart,
  savepoint: boolean,
): Promise<{ readonly record: SagaRecord; readonly created: boolean }> {
  const { record, log } = startedSaga(start);
  if (savepoint) await tx.execute(`SAVEPOINT ${SAVEPOINT}`);
  try {
    const inserted = await tx.execute(
      `INSERT INTO converge_saga (${START_COLUMNS})
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (name, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING`,
      startColumnValues(record, (at) => at.getTime()),
    );
    if (inserted === 1) {
      for (const entry of log) await tx.execute(INSERT_TRANSITION, transitionValues(entry));
    }
    if (savepoint) await tx.execute(`RELEASE SAVEPOINT ${SAVEPOINT}`);
    if (inserted === 1) return { record, created: true };
  } catch (error) {
    if (savepoint) {
      await tx.execute(`ROLLBACK TO SAVEPOINT ${SAVEPOINT}`);
      await tx.execute(`RELEASE SAVEPOINT ${SAVEPOINT}`);
    }
    throw error;
  }
  const [existing] = await tx.query<SagaRow>(
    'SELECT * FROM converge_saga WHERE name = ? AND idempotency_key = ?',
    [start.name, start.idempotencyKey],
  );
  if (existing === undefined) throw startConflictLost(start);
  return { record: toRecord(existing), created: false };
}

function insertTransition(
  statements: StatementCache,
  sagaId: string,
  seq: number,
  fencingToken: number,
  write: SagaWrite,
): void {
  const entry = { sagaId, seq, ...write.transition, status: write.status, fencingToken, at: write.at };
  statements.run(INSERT_TRANSITION, transitionValues(entry));
}

/** The parameters of INSERT_TRANSITION for one log entry. */
function transitionValues(entry: SagaTransition): unknown[] {
  const { detail } = entry;
  return [
    entry.sagaId,
    entry.seq,
    entry.kind,
    entry.step,
    entry.attempt,
    entry.status,
    detail === undefined || detail === null ? null : JSON.stringify(detail),
    entry.fencingToken,
    entry.at.getTime(),
  ];
}

/**
 * status, snapshot, wake_at, reason, how many transitions are added, updated_at — the row columns
 * every write sets, from its last transition.
 */
function rowValues(last: SagaWrite, added: number): unknown[] {
  return [
    last.status,
    json(last.snapshot),
    last.wakeAt?.getTime() ?? null,
    last.reason,
    added,
    last.at.getTime(),
  ];
}

const json = (value: unknown): string => JSON.stringify(value ?? null);
