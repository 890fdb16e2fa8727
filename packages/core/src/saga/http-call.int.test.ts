import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isRetryableError, isTerminalError } from '../core/errors.js';
import { httpCall, retryAfterOf } from './http-call.js';
import type { StepContext } from './saga-definition.js';
import { stepFailure } from './step-failure.js';

interface Seen {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingMessage['headers'];
  readonly body: string;
}

let server: Server;
let base: string;
const seen: Seen[] = [];

/** A real participant: answers by path (`/status/503?retry-after=3`, `/json`, `/empty`). */
beforeAll(async () => {
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => {
      body += chunk.toString();
    });
    req.on('end', () => {
      seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
      const url = new URL(req.url ?? '/', 'http://x');
      if (url.pathname === '/json') {
        res.writeHead(201, { 'content-type': 'application/json; charset=utf-8' });
        res.end(JSON.stringify({ paymentId: 'p-1', echo: body === '' ? null : JSON.parse(body) }));
      } else if (url.pathname === '/empty') {
        res.writeHead(204).end();
      } else if (url.pathname === '/hang') {
        // Never answers: the attempt's signal must end the call.
      } else {
        const status = Number(url.pathname.split('/')[2]);
        const retryAfter = url.searchParams.get('retry-after');
        res.writeHead(status, retryAfter === null ? {} : { 'retry-after': retryAfter });
        res.end(`problem ${status}`);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

function context(signal: AbortSignal = new AbortController().signal): StepContext<{ customerId: string }> {
  return {
    sagaId: 'saga-1',
    step: 'billing',
    attempt: 2,
    idempotencyKey: 'saga-1:billing',
    input: { customerId: 'c-9' },
    outputs: {},
    signal,
  };
}

async function thrown(call: Promise<unknown>): Promise<unknown> {
  return call.then(
    () => {
      throw new Error('It did not throw.');
    },
    (error: unknown) => error,
  );
}

describe('httpCall against a real HTTP participant', () => {
  it('sends the idempotency key and the JSON body, and returns the parsed JSON answer', async () => {
    const action = httpCall<{ customerId: string }>({
      url: `${base}/json`,
      body: (c) => ({ customerId: c.input.customerId }),
      headers: { 'idempotency-key': 'forged', 'x-trace': 't-1' },
    });
    await expect(action(context())).resolves.toEqual({ paymentId: 'p-1', echo: { customerId: 'c-9' } });
    const request = seen.at(-1)!;
    expect(request).toMatchObject({ method: 'POST', body: '{"customerId":"c-9"}' });
    expect(request.headers).toMatchObject({
      'idempotency-key': 'saga-1:billing',
      'x-trace': 't-1',
      'content-type': 'application/json',
    });
  });

  it('returns null for an empty success, with the method and URL from the context', async () => {
    const action = httpCall({ url: (c) => `${base}/empty?customer=${c.sagaId}`, method: 'delete' });
    await expect(action(context())).resolves.toBeNull();
    expect(seen.at(-1)).toMatchObject({ method: 'DELETE', url: '/empty?customer=saga-1', body: '' });
  });

  it.each([400, 404, 422])('turns %i into a TerminalError that skips retries', async (status) => {
    const error = await thrown(httpCall({ url: `${base}/status/${status}` })(context()));
    expect(isTerminalError(error)).toBe(true);
    expect(error).toMatchObject({ code: 'HTTP_CALL_REJECTED', details: { status } });
    expect((error as Error).message).toMatch(
      new RegExp(
        `POST ${base}/status/${status} \\(idempotency key saga-1:billing, attempt 2\\) answered ${status} .*: problem ${status}; the participant refused`,
      ),
    );
    expect(stepFailure(error).retryable).toBe(false);
  });

  it.each([500, 503, 408, 409, 425, 429])('turns %i into a RetryableError', async (status) => {
    const error = await thrown(httpCall({ url: `${base}/status/${status}` })(context()));
    expect(isRetryableError(error)).toBe(true);
    expect(error).toMatchObject({ code: 'HTTP_CALL_FAILED', retryAfterMs: undefined });
    expect(stepFailure(error).retryable).toBe(true);
  });

  it("passes a participant's Retry-After on to the retry", async () => {
    const error = await thrown(httpCall({ url: `${base}/status/503?retry-after=3` })(context()));
    expect(error).toMatchObject({ code: 'HTTP_CALL_FAILED', retryAfterMs: 3_000 });
    expect(stepFailure(error).retryAfterMs).toBe(3_000);
    expect(retryAfterOf('Wed, 21 Oct 2015 07:28:10 GMT', Date.parse('Wed, 21 Oct 2015 07:28:00 GMT'))).toBe(
      10_000,
    );
    expect(retryAfterOf('soon', 0)).toBeUndefined();
  });

  it('turns a refused connection into a retryable error, and masks a password in the URL', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const { port } = closed.address() as AddressInfo;
    await new Promise((resolve) => closed.close(resolve));
    const error = await thrown(httpCall({ url: `http://127.0.0.1:${port}/pay` })(context()));
    expect(error).toMatchObject({ code: 'HTTP_CALL_UNREACHABLE' });
    expect((error as Error).message).toMatch(/got no answer \(fetch failed: connect ECONNREFUSED/);
    expect(stepFailure(error).retryable).toBe(true);
    const withPassword = await thrown(
      httpCall({ url: `http://svc:s3cret@127.0.0.1:${port}/pay` })(context()),
    );
    expect((withPassword as Error).message).toMatch(/svc:\*\*\*@/);
    expect((withPassword as Error).message).not.toMatch(/s3cret/);
  });

  it("ends a call that hangs when the attempt's signal aborts, as a retryable failure", async () => {
    const controller = new AbortController();
    const call = httpCall({ url: `${base}/hang` })(context(controller.signal));
    controller.abort();
    const error = await thrown(call);
    expect(error).toMatchObject({ code: 'HTTP_CALL_UNREACHABLE' });
    expect((error as Error).message).toMatch(/got no answer \(aborted/);
  });
});
