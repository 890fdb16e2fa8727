/**
 * A participant of the randomised saga test: a real `node:http` server on 127.0.0.1 with its own
 * database, made idempotent by Converge's participant helper (`runIdempotent`: the effect, the
 * `Idempotency-Key` and the stored response commit in one transaction). `POST /apply` records the
 * step's effect, `POST /undo` its compensation, each as a row of the `effect` table, which has NO
 * unique constraint: an effect applied twice would show as two rows.
 *
 * What it does is scripted by the saga's input (see `StepScript`), so it behaves the same whichever
 * orchestrator instance calls it. A slow attempt waits before its transaction (not inside it: a
 * held SQLite write lock would stall every other request), so it can apply after the orchestrator
 * gave up on it. That is why, as ADR 0020 asks of participants that can be that slow, the
 * compensation records a row even when there was nothing to undo (`nothing-to-undo`), and an
 * apply that comes after it is refused with 410; apply and undo of one (saga, step) take a lock
 * (PostgreSQL advisory lock; SQLite's single writer) so neither misses the other's commit.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import {
  checkIdempotencyKey,
  requestHash,
  runIdempotent,
  type Storage,
  type StoredResponse,
  type Transaction,
} from '../../packages/core/src/index.js';
import { waitFor } from '../../packages/core/src/testing/wait-for.js';
import { type Backend, param } from '../support/backends.js';
import { listenLocally, type Ordinal, readEffects } from '../support/saga-participants.js';
import type { StepScript } from './random-plan.js';

/** What a row of a participant's effect table says happened. */
export type EffectKind = 'apply' | 'undo' | 'nothing-to-undo';

export interface EffectRow {
  /** Order of commit across every participant of the test. */
  readonly n: number;
  readonly kind: EffectKind;
  readonly sagaId: string;
  readonly step: string;
  readonly key: string;
}

export interface RandomParticipant {
  readonly name: string;
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  effects(): Promise<EffectRow[]>;
  /** Waits (bounded) until no request is being handled: slow attempts have ended. */
  idle(timeoutMs: number): Promise<void>;
  close(): Promise<void>;
}

interface Call {
  readonly sagaId: string;
  readonly step: string;
  readonly script?: StepScript;
}

/** What the script says to do with a request: carry it out, refuse it for good, or fail it for now. */
type Decision = 'proceed' | 'refuse' | 'fail';

/** Starts participant `name` on `storage` (its own, migrated database). */
export async function startRandomParticipant(
  name: string,
  storage: Storage,
  backend: Backend,
  counter: Ordinal,
): Promise<RandomParticipant> {
  const p = (i: number) => param(backend, i);
  await storage.transaction((tx) =>
    tx.execute(
      'CREATE TABLE effect (n integer NOT NULL, kind text NOT NULL, saga_id text NOT NULL, step text NOT NULL, key text NOT NULL)',
    ),
  );
  const arrivals = new Map<string, number>();
  let handling = 0;

  const lock = async (tx: Transaction, call: Call) => {
    if (backend.name === 'postgres')
      await tx.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`${call.sagaId}:${call.step}`]);
  };
  const count = async (tx: Transaction, call: Call, kinds: 'apply' | 'undone') => {
    const [row] = await tx.query<{ c: number | string }>(
      `SELECT COUNT(*) AS c FROM effect WHERE saga_id = ${p(1)} AND step = ${p(2)} AND ${kinds === 'apply' ? "kind = 'apply'" : "kind <> 'apply'"}`,
      [call.sagaId, call.step],
    );
    return Number(row?.c ?? 0);
  };
  const record = (tx: Transaction, call: Call, kind: EffectKind, key: string) =>
    tx.execute(
      `INSERT INTO effect (n, kind, saga_id, step, key) VALUES (${p(1)}, ${p(2)}, ${p(3)}, ${p(4)}, ${p(5)})`,
      [counter.next(), kind, call.sagaId, call.step, key],
    );

  /** The effect of one request, in the participant's transaction. */
  async function effect(tx: Transaction, call: Call, undo: boolean, decision: Decision, key: string) {
    if (decision === 'fail') return json(503, { error: `${name} is failing for now` });
    await lock(tx, call);
    if (decision === 'refuse')
      return json(422, { error: `${name} refuses${undo ? ' to undo' : ''} ${call.sagaId}:${call.step}` });
    if (undo) {
      const applied = (await count(tx, call, 'apply')) > 0;
      await record(tx, call, applied ? 'undo' : 'nothing-to-undo', key);
      return json(200, { undone: applied });
    }
    if ((await count(tx, call, 'undone')) > 0)
      return json(410, { error: `${name}: ${call.sagaId}:${call.step} was compensated already` });
    await record(tx, call, 'apply', key);
    return json(200, { applied: call.step, by: name });
  }

  async function serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const checked = checkIdempotencyKey(req.headers['idempotency-key'] as string | undefined, true);
    if ('refusal' in checked) return send(res, checked.refusal);
    const text = await readBody(req);
    const call = JSON.parse(text) as Call;
    const undo = req.url === '/undo';
    const script = call.script ?? {};
    const arrival = bump(arrivals, `${call.sagaId}:${call.step}:${undo}`);
    let decision: Decision;
    let answerLateMs = 0;
    if (undo) {
      decision = arrival <= (script.undoFail ?? 0) ? 'fail' : script.undoRefuse ? 'refuse' : 'proceed';
    } else {
      const failing = script.fail ?? 0;
      if (arrival <= failing + (script.slow ?? 0) && arrival > failing) {
        if (script.late === 'apply') await sleep(script.slowMs ?? 0);
        else answerLateMs = script.slowMs ?? 0;
      }
      decision = arrival <= failing ? 'fail' : script.refuse ? 'refuse' : 'proceed';
    }
    const { response, replayed } = await runIdempotent({
      storage,
      scope: name,
      key: checked.key,
      requestHash: requestHash(req.method ?? 'POST', req.url ?? '/', text),
      handler: (tx) => effect(tx, call, undo, decision, checked.key ?? ''),
    });
    if (answerLateMs > 0) await sleep(answerLateMs);
    send(res, response, replayed);
  }

  const server = await listenLocally(
    createServer((req, res) => {
      handling += 1;
      serve(req, res)
        .catch((error: unknown) => send(res, json(500, { error: String(error) })))
        .finally(() => {
          handling -= 1;
        });
    }),
  );
  return {
    name,
    url: server.url,
    effects: () => readEffects<EffectKind>(storage),
    async idle(timeoutMs) {
      await waitFor(`participant ${name} to finish its requests`, () => handling === 0, timeoutMs);
    },
    close: server.close,
  };
}

function json(status: number, body: unknown): StoredResponse {
  return { status, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) };
}

function send(res: ServerResponse, response: StoredResponse, replayed = false): void {
  if (res.headersSent || res.destroyed) return;
  res.writeHead(response.status, {
    ...response.headers,
    'content-length': Buffer.byteLength(response.body),
    ...(replayed ? { 'idempotent-replayed': 'true' } : {}),
  });
  res.end(response.body);
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req as AsyncIterable<Buffer>) chunks.push(chunk);
  return Buffer.concat(chunks).toString('utf8');
}

function bump(counts: Map<string, number>, key: string): number {
  const next = (counts.get(key) ?? 0) + 1;
  counts.set(key, next);
  return next;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
