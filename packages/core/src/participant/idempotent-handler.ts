/**
 * An idempotent participant endpoint on plain `node:http`: reads the body (up to a limit), checks
 * the `Idempotency-Key` header, and runs the handler through `runIdempotent`, so the handler's
 * effect, the key and the response commit in one transaction of the participant's database.
 */
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import type { StoredResponse } from '../ports/idempotency-store.js';
import type { Transaction } from '../ports/storage.js';
import {
  type ParticipantOptions,
  type ResolvedParticipantOptions,
  resolveParticipantOptions,
} from './participant-options.js';
import {
  bodyTooLarge,
  checkIdempotencyKey,
  HANDLER_FAILED,
  IDEMPOTENCY_KEY_HEADER,
  IDEMPOTENT_REPLAYED_HEADER,
} from './participant-responses.js';
import { requestHash } from './request-hash.js';
import { runIdempotent } from './run-idempotent.js';

/** The options of `idempotentHandler` (see `ParticipantOptions`). */
export type IdempotentHandlerOptions = ParticipantOptions;

/** The request as the handler sees it: the body is already read. */
export interface IdempotentRequest {
  readonly method: string;
  /** Path and query, as sent. */
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  /** The body as UTF-8 text ('' when there is none). */
  readonly body: string;
  /** The validated idempotency key, or undefined when the request carried none. */
  readonly idempotencyKey: string | undefined;
  readonly raw: IncomingMessage;
}

/** What a handler answers. A non-string `body` is sent as JSON. */
export interface HandlerResponse {
  readonly status: number;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: unknown;
}

/** Applies the request's effect through `tx` (the participant's transaction) and answers. */
export type IdempotentHttpHandler = (request: IdempotentRequest, tx: Transaction) => Promise<HandlerResponse>;

/**
 * Wraps `handler` as a `node:http` request listener that applies each idempotency key at most once.
 * A replay carries `Idempotent-Replayed: true`. A reused key with another method, path or body gets
 * 422; an invalid key 400; a body over `maxBodyBytes` 413; a handler that throws 500 with nothing
 * applied or stored. Responses with status >= 500 are sent but not stored (see `runIdempotent`).
 *
 * @example
 * http.createServer(idempotentHandler({ storage, scope: 'billing' }, async (request, tx) => {
 *   const { customer, cents } = JSON.parse(request.body);
 *   await tx.execute('INSERT INTO charge (customer, cents) VALUES ($1, $2)', [customer, cents]);
 *   return { status: 201, body: { charged: cents } };
 * })).listen(8080);
 */
export function idempotentHandler(
  options: IdempotentHandlerOptions,
  handler: IdempotentHttpHandler,
): (req: IncomingMessage, res: ServerResponse) => void {
  const resolved = resolveParticipantOptions(options);
  return (req, res) => {
    serve(resolved, handler, req, res).catch((error: unknown) => {
      resolved.logger.error({ err: error }, 'idempotent request failed outside its handler');
      send(res, HANDLER_FAILED, false);
    });
  };
}

async function serve(
  options: ResolvedParticipantOptions,
  handler: IdempotentHttpHandler,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const checked = checkIdempotencyKey(headerValue(req.headers[IDEMPOTENCY_KEY_HEADER]), options.requireKey);
  if ('refusal' in checked) return send(res, checked.refusal, false);
  let body: string | undefined;
  try {
    body = await readBody(req, options.maxBodyBytes);
  } catch {
    // The client went away before its body arrived: nothing ran, nobody to answer.
    res.destroy();
    return;
  }
  if (body === undefined) return send(res, bodyTooLarge(options.maxBodyBytes), false, true);
  const method = req.method ?? 'GET';
  const url = req.url ?? '/';
  const request: IdempotentRequest = {
    method,
    url,
    headers: req.headers,
    body,
    idempotencyKey: checked.key,
    raw: req,
  };
  let result: { response: StoredResponse; replayed: boolean };
  try {
    result = await runIdempotent({
      storage: options.storage,
      scope: options.scope,
      key: checked.key,
      requestHash: requestHash(method, url, body),
      handler: async (tx) => toStoredResponse(await handler(request, tx)),
      ...(options.faults === undefined ? {} : { faults: options.faults }),
    });
  } catch (error) {
    options.logger.error(
      { err: error, idempotencyKey: checked.key, method, url },
      'idempotent handler failed; its transaction was rolled back',
    );
    return send(res, HANDLER_FAILED, false);
  }
  send(res, result.response, result.replayed);
}

/** Node joins a repeated header with ', '; a repeated key is then refused as the joined text. */
function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value.join(', ') : value;
}

/** The body as text, or undefined when it is larger than `limit` (reading stops there). */
async function readBody(req: IncomingMessage, limit: number): Promise<string | undefined> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) return undefined;
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) return undefined;
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** Normalizes a handler's answer to what is stored: lower-case header names, a text body. */
function toStoredResponse(answer: HandlerResponse): StoredResponse {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(answer.headers ?? {})) headers[name.toLowerCase()] = value;
  let body: string;
  if (answer.body === undefined) body = '';
  else if (typeof answer.body === 'string') body = answer.body;
  else {
    body = JSON.stringify(answer.body);
    headers['content-type'] ??= 'application/json';
  }
  if (body !== '') headers['content-type'] ??= 'text/plain; charset=utf-8';
  delete headers['content-length'];
  delete headers['transfer-encoding'];
  return { status: answer.status, headers, body };
}

function send(res: ServerResponse, response: StoredResponse, replayed: boolean, close = false): void {
  if (res.headersSent || res.destroyed) return;
  res.writeHead(response.status, {
    ...response.headers,
    'content-length': Buffer.byteLength(response.body),
    ...(replayed ? { [IDEMPOTENT_REPLAYED_HEADER]: 'true' } : {}),
    ...(close ? { connection: 'close' } : {}),
  });
  res.end(response.body);
}
