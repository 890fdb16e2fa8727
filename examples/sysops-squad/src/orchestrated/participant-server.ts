/**
 * One Sysops Squad service as a participant of the orchestrated _customer unsubscribes_: an HTTP
 * server with two routes, both made idempotent by Converge's participant helper
 * (`idempotentHandler`: the effect, the `Idempotency-Key` and the response commit in one
 * transaction of the service's own database, and a repeated key gets the stored response back):
 *
 * - `POST /unsubscribe` `{ sagaId, customerId }` — the step: applies the service's part of the
 *   unsubscription (see `participants.ts`), or refuses it (4xx, stored: the answer for that key),
 *   or fails for now (5xx, not stored: a retry runs it again);
 * - `POST /unsubscribe/undo` `{ sagaId, customerId, actionKey }` — the compensation: undoes the
 *   part the step applied with `actionKey`, or records that there was nothing to undo (the step's
 *   outcome was unknown to the orchestrator, and it never applied).
 *
 * Each applied part and each undo is also written to the service's effect table, which has no
 * unique constraint: an effect applied twice would show there as two rows (the demo's check reads
 * it). A step that arrives after its compensation was recorded is refused with 410 instead of
 * applied — a slow request must not outlive the saga's undoing (ADR 0020, "Unknown outcome").
 */
import { createServer, type Server } from 'node:http';
import {
  type FaultInjector,
  type HandlerResponse,
  idempotentHandler,
  type Logger,
  type Transaction,
} from '@converge/core';
import { type ServiceDatabase, scalar } from '../services/database.js';

/** The services that take part in the saga. */
export const PARTICIPANTS = ['customer-profile', 'support-contract', 'billing-payment'] as const;
export type ParticipantName = (typeof PARTICIPANTS)[number];

/** What an effect-table row says happened. */
export const EffectKind = {
  APPLY: 'apply',
  UNDO: 'undo',
  NOTHING_TO_UNDO: 'nothing-to-undo',
} as const;
export type EffectKind = (typeof EffectKind)[keyof typeof EffectKind];

/** A service's part of the unsubscription, on its own tables. */
export interface ParticipantPart {
  readonly service: ParticipantName;
  /** The service's tables (its effect table included), as idempotent DDL. */
  readonly tables: readonly string[];
  /** Where applied parts and undos are recorded (one of `tables`). */
  readonly effectTable: string;
  /** Puts a subscribed customer on `plan` into the service's tables (the demo's starting state). */
  seed(tx: Transaction, customerId: string, plan: string): Promise<void>;
  /** Applies the part in `tx` and answers 2xx; or answers a refusal (4xx) or an outage (5xx) without changing anything. */
  apply(tx: Transaction, customerId: string): Promise<HandlerResponse>;
  /** Reverts what `apply` changed. */
  undo(tx: Transaction, customerId: string): Promise<void>;
}

/** DDL of an effect table (the name is one of the services' own constants). */
export function effectTable(table: string): string {
  return `CREATE TABLE IF NOT EXISTS ${table} (request_key TEXT NOT NULL, action_key TEXT NOT NULL, saga_id TEXT NOT NULL, customer_id TEXT NOT NULL, kind TEXT NOT NULL, applied_at BIGINT NOT NULL)`;
}

interface StepBody {
  readonly sagaId: string;
  readonly customerId: string;
  readonly actionKey?: string;
}

/** The participant's HTTP server (not yet listening). */
export function createParticipantServer(
  db: ServiceDatabase,
  part: ParticipantPart,
  faults: FaultInjector,
  logger: Logger,
): Server {
  const handler = idempotentHandler(
    { storage: db.storage, scope: part.service, requireKey: true, faults, logger },
    async (request, tx) => {
      // requireKey: the helper answered 400 already when the header was missing.
      const key = request.idempotencyKey ?? '';
      const body = parseBody(request.body);
      if (typeof body === 'string') return { status: 400, body: { error: body } };
      if (request.method === 'POST' && request.url === '/unsubscribe')
        return applyPart(db, part, tx, key, body);
      if (request.method === 'POST' && request.url === '/unsubscribe/undo') {
        if (body.actionKey === undefined) return { status: 400, body: { error: 'actionKey is missing' } };
        return undoPart(db, part, tx, key, { ...body, actionKey: body.actionKey });
      }
      return { status: 404, body: { error: 'POST /unsubscribe and POST /unsubscribe/undo are the routes' } };
    },
  );
  return createServer(handler);
}

async function applyPart(
  db: ServiceDatabase,
  part: ParticipantPart,
  tx: Transaction,
  key: string,
  body: StepBody,
): Promise<HandlerResponse> {
  const { p } = db;
  await lockAction(db, tx, key);
  const compensated = await scalar(
    tx,
    `SELECT COUNT(*) AS n FROM ${part.effectTable} WHERE action_key = ${p(1)} AND kind <> ${p(2)}`,
    [key, EffectKind.APPLY],
  );
  if (compensated > 0) {
    return {
      status: 410,
      body: { error: `${part.service}: step ${key} was compensated already; it is not applied now` },
    };
  }
  const answer = await part.apply(tx, body.customerId);
  if (answer.status < 300) await recordEffect(db, part, tx, key, key, body, EffectKind.APPLY);
  return answer;
}

async function undoPart(
  db: ServiceDatabase,
  part: ParticipantPart,
  tx: Transaction,
  key: string,
  body: StepBody & { readonly actionKey: string },
): Promise<HandlerResponse> {
  const { p } = db;
  await lockAction(db, tx, body.actionKey);
  const applied = await scalar(
    tx,
    `SELECT COUNT(*) AS n FROM ${part.effectTable} WHERE action_key = ${p(1)} AND kind = ${p(2)}`,
    [body.actionKey, EffectKind.APPLY],
  );
  if (applied > 0) await part.undo(tx, body.customerId);
  const kind = applied > 0 ? EffectKind.UNDO : EffectKind.NOTHING_TO_UNDO;
  await recordEffect(db, part, tx, key, body.actionKey, body, kind);
  return { status: 200, body: { customerId: body.customerId, undone: applied > 0 } };
}

/**
 * A step's apply and its undo for one action key take turns: each reads whether the other
 * happened, so without this a slow apply and its compensation running at once could each miss the
 * other's uncommitted row (an applied effect left in force in a compensated saga). SQLite has one
 * writer, so its transactions already take turns; with several connections (PostgreSQL) a
 * transaction-scoped advisory lock on the key does it.
 */
async function lockAction(db: ServiceDatabase, tx: Transaction, actionKey: string): Promise<void> {
  if (!db.storage.capabilities.multipleConnections) return;
  await tx.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [actionKey]);
}

async function recordEffect(
  { p }: ServiceDatabase,
  part: ParticipantPart,
  tx: Transaction,
  requestKey: string,
  actionKey: string,
  body: StepBody,
  kind: EffectKind,
): Promise<void> {
  await tx.execute(
    `INSERT INTO ${part.effectTable} (request_key, action_key, saga_id, customer_id, kind, applied_at) VALUES (${p(1)}, ${p(2)}, ${p(3)}, ${p(4)}, ${p(5)}, ${p(6)})`,
    [requestKey, actionKey, body.sagaId, body.customerId, kind, Date.now()],
  );
}

/** The body, or what is wrong with it. */
function parseBody(text: string): StepBody | string {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return 'the body is not JSON';
  }
  const body = (value ?? {}) as Partial<Record<keyof StepBody, unknown>>;
  if (typeof body.sagaId !== 'string' || body.sagaId === '') return 'sagaId is missing';
  if (typeof body.customerId !== 'string' || body.customerId === '') return 'customerId is missing';
  if (body.actionKey !== undefined && typeof body.actionKey !== 'string') return 'actionKey must be a string';
  return body as StepBody;
}
