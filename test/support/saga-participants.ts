/**
 * Saga participants for the orchestrator tests: real `node:http` servers on 127.0.0.1, each with
 * its own database, made idempotent with `idempotentHandler`. `POST /apply` records the step's
 * effect, `POST /undo` its compensation (a compensation of an effect that never happened records
 * only that it ran, and is otherwise a no-op). Each row gets an ordinal from a counter shared by
 * all participants of a test, so the order of effects across participants can be checked.
 *
 * What a participant does is scripted by the saga's input (`script`), so it behaves the same
 * whichever orchestrator — in this process or a child — calls it:
 * - `refuse`: answer 422 (a definite refusal: the step fails without retries, nothing applied);
 * - `{ fail: n }`: answer 503 to the first n attempts of the saga's step, then apply;
 * - `{ hang: n }`: hold the first n attempts without answering (until the caller gives up).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { idempotentHandler, type Storage } from '../../packages/core/src/index.js';
import { type Backend, param } from './backends.js';

export type StepScript = 'refuse' | { readonly fail: number } | { readonly hang: number };

/** The body every call sends. */
export interface ParticipantCall {
  readonly sagaId: string;
  readonly step: string;
  readonly script?: StepScript;
}

export interface EffectRow {
  readonly n: number;
  readonly kind: 'apply' | 'undo';
  readonly sagaId: string;
  readonly step: string;
  readonly key: string;
}

export interface SagaParticipant {
  readonly name: string;
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  effects(): Promise<EffectRow[]>;
  close(): Promise<void>;
}

/** A counter shared by the participants of one test. */
export interface Ordinal {
  next(): number;
}

export function ordinal(): Ordinal {
  let n = 0;
  return { next: () => ++n };
}

/** Starts participant `name` on `storage` (its own database). */
export async function startParticipant(
  name: string,
  storage: Storage,
  backend: Backend,
  counter: Ordinal,
): Promise<SagaParticipant> {
  const p = (i: number) => param(backend, i);
  await storage.transaction((tx) =>
    tx.execute(
      'CREATE TABLE effect (n integer NOT NULL, kind text NOT NULL, saga_id text NOT NULL, step text NOT NULL, key text NOT NULL)',
    ),
  );
  const attempts = new Map<string, number>();
  const hanging = new Set<() => void>();
  const handler = idempotentHandler({ storage, scope: name }, async (request, tx) => {
    const call = JSON.parse(request.body) as ParticipantCall;
    const kind = request.url.startsWith('/undo') ? 'undo' : 'apply';
    if (kind === 'apply') {
      const attempt = (attempts.get(call.sagaId) ?? 0) + 1;
      attempts.set(call.sagaId, attempt);
      const script = call.script;
      if (script === 'refuse') return { status: 422, body: { error: `${name} refuses ${call.sagaId}` } };
      if (script !== undefined && 'fail' in script && attempt <= script.fail)
        return { status: 503, body: { error: `${name} is failing (attempt ${attempt})` } };
      if (script !== undefined && 'hang' in script && attempt <= script.hang) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, 5_000);
          const done = () => {
            clearTimeout(timer);
            hanging.delete(done);
            resolve();
          };
          hanging.add(done);
          // Until the caller gives up (its socket closes), which may have happened while this
          // request waited for the participant's database.
          if (request.raw.socket.destroyed) done();
          else request.raw.socket.once('close', done);
        });
        return { status: 503, body: { error: `${name} gave up hanging` } };
      }
    }
    await tx.execute(
      `INSERT INTO effect (n, kind, saga_id, step, key) VALUES (${p(1)}, ${p(2)}, ${p(3)}, ${p(4)}, ${p(5)})`,
      [counter.next(), kind, call.sagaId, call.step, request.idempotencyKey ?? ''],
    );
    return { status: 200, body: { [kind === 'apply' ? 'applied' : 'undone']: call.step, by: name } };
  });
  const server = await listenLocally(createServer(handler), () => {
    for (const release of [...hanging]) release();
  });
  return {
    name,
    url: server.url,
    effects: () => readEffects<EffectRow['kind']>(storage),
    close: server.close,
  };
}

/** The rows of a participant's `effect` table, in the order they were applied. */
export async function readEffects<Kind extends string>(
  storage: Storage,
): Promise<{ n: number; kind: Kind; sagaId: string; step: string; key: string }[]> {
  const rows = await storage.transaction((tx) =>
    tx.query<{ n: number | string; kind: Kind; saga_id: string; step: string; key: string }>(
      'SELECT n, kind, saga_id, step, key FROM effect ORDER BY n',
    ),
  );
  return rows.map((r) => ({ n: Number(r.n), kind: r.kind, sagaId: r.saga_id, step: r.step, key: r.key }));
}

/**
 * Starts `server` on 127.0.0.1 at a free port; `close` runs `beforeClose` (release held requests),
 * drops every connection and waits for the server to close.
 */
export async function listenLocally(
  server: Server,
  beforeClose: () => void = () => undefined,
): Promise<{ readonly url: string; close(): Promise<void> }> {
  server.listen(0, '127.0.0.1');
  await new Promise<void>((resolve) => server.once('listening', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        beforeClose();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
