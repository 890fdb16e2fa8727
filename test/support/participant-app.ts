/**
 * A participant for the idempotency tests: `POST /charges` records a charge (the effect) in the
 * participant's own database, served by the node:http handler or by the Hono middleware on a real
 * port of 127.0.0.1. The test steers the next run of the route through `ChargeProbe` (fail by
 * throwing, answer 503 or 409, or hold after the effect until a gate opens), so a retry can send
 * exactly the same request.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { Hono } from 'hono';
import {
  type HandlerResponse,
  type IdempotentHandlerOptions,
  idempotentHandler,
  type Storage,
  type Transaction,
} from '../../packages/core/src/index.js';
import {
  type ConvergeIdempotencyEnv,
  idempotency,
} from '../../packages/core/src/participant/hono-idempotency.js';
import { type Backend, param } from './backends.js';

/** What the test asks of the route's next run. */
export interface ChargeProbe {
  /** Runs of the route (replays do not run it). */
  calls: number;
  /** How the next run ends after (or instead of) its effect; reset after that run. */
  failNext?: 'throw' | 'status-503' | 'refuse-409';
  /** Awaited after the effect, before the route answers. */
  hold?: () => Promise<void>;
}

export type ParticipantOptions = Omit<IdempotentHandlerOptions, 'storage'>;

export interface RunningParticipant {
  /** `http://127.0.0.1:<port>/charges` */
  readonly url: string;
  readonly server: Server;
  close(): Promise<void>;
}

export interface ParticipantKind {
  readonly name: 'node:http' | 'hono';
  start(
    storage: Storage,
    backend: Backend,
    probe: ChargeProbe,
    options?: ParticipantOptions,
  ): Promise<RunningParticipant>;
}

export async function createChargeTable(storage: Storage): Promise<void> {
  await storage.transaction(async (tx) => {
    await tx.execute('CREATE TABLE charge (customer text NOT NULL, cents integer NOT NULL, note text)');
  });
}

/** The route: the effect in `tx`, then the answer the probe asks for. */
async function charge(
  backend: Backend,
  probe: ChargeProbe,
  tx: Transaction,
  body: { customer: string; cents: number },
  key: string | undefined,
): Promise<HandlerResponse> {
  probe.calls += 1;
  const call = probe.calls;
  const failure = probe.failNext;
  delete probe.failNext;
  if (failure === 'refuse-409')
    return { status: 409, body: { error: `customer ${body.customer} is closed` } };
  const p = (i: number) => param(backend, i);
  await tx.execute(`INSERT INTO charge (customer, cents, note) VALUES (${p(1)}, ${p(2)}, ${p(3)})`, [
    body.customer,
    body.cents,
    key ?? null,
  ]);
  await probe.hold?.();
  if (failure === 'throw') throw new Error('the card network is down (thrown by the test)');
  if (failure === 'status-503') return { status: 503, body: { error: 'try later' } };
  return { status: 201, headers: { 'X-Charge-Call': String(call) }, body: { charged: body.cents, call } };
}

async function listening(server: Server): Promise<RunningParticipant> {
  if (!server.listening) await new Promise<void>((resolve) => server.once('listening', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/charges`,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export const nodeHttpParticipant: ParticipantKind = {
  name: 'node:http',
  async start(storage, backend, probe, options = {}) {
    const server = createServer(
      idempotentHandler({ storage, ...options }, (request, tx) =>
        charge(backend, probe, tx, JSON.parse(request.body), request.idempotencyKey),
      ),
    );
    server.listen(0, '127.0.0.1');
    return listening(server);
  },
};

export const honoParticipant: ParticipantKind = {
  name: 'hono',
  async start(storage, backend, probe, options = {}) {
    const app = new Hono<ConvergeIdempotencyEnv>();
    // The app's own error handler answers a route that threw (the middleware sends its response).
    app.onError((error, c) => c.json({ error: error.message }, 500));
    app.post('/charges', idempotency({ storage, ...options }), async (c) => {
      const answer = await charge(
        backend,
        probe,
        c.get('convergeTx'),
        await c.req.json(),
        c.req.header('idempotency-key'),
      );
      return c.json(answer.body, answer.status as 201, answer.headers);
    });
    const server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }) as Server;
    return listening(server);
  },
};

export const participantKinds: readonly ParticipantKind[] = [nodeHttpParticipant, honoParticipant];
