/**
 * A participant server process for the crash test: `POST /charges` records a charge in its own
 * database through the node:http handler (`ADAPTER=node`) or the Hono middleware (`ADAPTER=hono`),
 * both imported from the built `@converge/core` as a user would. With
 * `CRASH_AT=after-participant-commit-before-response` it kills itself with SIGKILL the first time
 * it reaches that point: after the effect and key committed, before the response is written.
 * Prints `listening <port>` once it accepts requests.
 */
import { createServer } from 'node:http';
import { FaultPoint, idempotentHandler } from '@converge/core';
import { idempotency } from '@converge/core/participant/hono';
import { serve } from '@hono/node-server';
import { Hono } from 'hono';
import { openStorage } from '../../packages/cli/dist/open-storage.js';

const url = process.env.DB_URL;
const adapter = process.env.ADAPTER;
const crashAt = process.env.CRASH_AT ?? '';
if (!url || (adapter !== 'node' && adapter !== 'hono')) {
  console.error('participant-server: set DB_URL and ADAPTER=node|hono');
  process.exit(2);
}
if (crashAt !== '' && !Object.values(FaultPoint).includes(crashAt)) {
  console.error(`participant-server: CRASH_AT must be one of ${Object.values(FaultPoint).join(', ')}`);
  process.exit(2);
}
const faults = {
  reach(point) {
    if (point === crashAt) process.kill(process.pid, 'SIGKILL');
  },
};

const storage = await openStorage(url);
await storage.assertSchemaCurrent();
const p = url.startsWith('postgres') ? (i) => `$${i}` : () => '?';

/** The effect: one charge row, noted with the request's idempotency key. */
async function charge(tx, body, key) {
  await tx.execute(`INSERT INTO charge (customer, cents, note) VALUES (${p(1)}, ${p(2)}, ${p(3)})`, [
    body.customer,
    body.cents,
    key ?? null,
  ]);
  return { charged: body.cents, pid: process.pid };
}

let server;
if (adapter === 'node') {
  server = createServer(
    idempotentHandler({ storage, faults }, async (request, tx) => ({
      status: 201,
      body: await charge(tx, JSON.parse(request.body), request.idempotencyKey),
    })),
  );
  server.listen(0, '127.0.0.1');
} else {
  const app = new Hono();
  app.post('/charges', idempotency({ storage, faults }), async (c) =>
    c.json(await charge(c.get('convergeTx'), await c.req.json(), c.req.header('idempotency-key')), 201),
  );
  server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' });
}
server.on('listening', () => console.log(`listening ${server.address().port}`));
