/**
 * `httpCall`: a step action (or compensation) that calls a participant over HTTP with `fetch`,
 * sending the context's idempotency key as the `Idempotency-Key` header, and turning the answer
 * into an output or an error the state machine can classify.
 */
import { maskSecrets } from '../core/database-url.js';
import { RetryableError, TerminalError } from '../core/errors.js';
import { type FromContext, fromContext } from './from-context.js';
import type { StepContext, StepOutputs } from './saga-definition.js';

export type { FromContext } from './from-context.js';

/** What `httpCall` sends. */
export interface HttpCallOptions<Input, Outputs extends object> {
  readonly url: FromContext<string, Input, Outputs>;
  /** Default `POST`. */
  readonly method?: string;
  /** The JSON body; none when omitted. */
  readonly body?: (context: StepContext<Input, Outputs>) => unknown;
  /** Extra headers. `Idempotency-Key` is always the context's key and cannot be replaced. */
  readonly headers?: FromContext<Readonly<Record<string, string>>, Input, Outputs>;
  /** The `fetch` to use (a proxy-aware or instrumented one). Default: the global `fetch`. */
  readonly fetch?: typeof fetch;
}

/** Statuses below 500 that say "try again" rather than "this request is wrong". */
const RETRYABLE_CLIENT_STATUSES: ReadonlySet<number> = new Set([408, 409, 425, 429]);

/** The most of a response body an error message quotes. */
const BODY_EXCERPT_CHARS = 300;

/**
 * Builds an action that sends one HTTP request per attempt, with `Idempotency-Key: <key>`
 * (`<sagaId>:<step>`, or `…:compensate` as a compensation), `Accept: application/json`, and the
 * body as JSON. The request is aborted with the attempt (`context.signal`).
 *
 * - 2xx: the output is the body parsed as JSON when it is JSON, its text otherwise, null when empty.
 * - 4xx except 408, 409, 425 and 429: `TerminalError` (`HTTP_CALL_REJECTED`), no retries.
 * - 5xx, 408, 409, 425, 429: `RetryableError` (`HTTP_CALL_FAILED`), after `Retry-After` when given.
 * - No answer (refused, reset, DNS, aborted): `RetryableError` (`HTTP_CALL_UNREACHABLE`).
 * - Any other status (1xx, an unfollowed 3xx): `TerminalError` (`HTTP_CALL_REJECTED`).
 *
 * @example
 * .step('billing', {
 *   action: httpCall({ url: 'http://billing/payments', body: (c) => ({ customerId: c.input.customerId }) }),
 *   compensate: httpCall({ url: (c) => `http://billing/payments/${c.outputs.billing.id}`, method: 'DELETE' }),
 * })
 */
export function httpCall<Input = unknown, Outputs extends object = StepOutputs>(
  options: HttpCallOptions<Input, Outputs>,
): (context: StepContext<Input, Outputs>) => Promise<unknown> {
  const method = (options.method ?? 'POST').toUpperCase();
  return async (context) => {
    const url = fromContext(options.url, context);
    const headers: Record<string, string> = {
      accept: 'application/json',
      ...fromContext(options.headers ?? {}, context),
    };
    for (const name of Object.keys(headers))
      if (name.toLowerCase() === 'idempotency-key') delete headers[name];
    headers['Idempotency-Key'] = context.idempotencyKey;
    const init: RequestInit = { method, headers, signal: context.signal };
    if (options.body !== undefined) {
      init.body = JSON.stringify(options.body(context));
      headers['content-type'] = 'application/json';
    }
    const what = `${method} ${maskSecrets(url)} (idempotency key ${context.idempotencyKey}, attempt ${context.attempt})`;
    let response: Response;
    let text: string;
    try {
      response = await (options.fetch ?? fetch)(url, init);
      text = await response.text();
    } catch (error) {
      throw new RetryableError(
        maskSecrets(`${what} got no answer (${reasonOf(error)}); retrying per the step's policy.`),
        {
          code: 'HTTP_CALL_UNREACHABLE',
          cause: error,
          details: { url: maskSecrets(url), method },
        },
      );
    }
    if (response.ok) return outputOf(response, text);
    throw answerError(what, url, method, response, text);
  };
}

function outputOf(response: Response, text: string): unknown {
  if (text.trim() === '') return null;
  if (!/[/+]json\b/i.test(response.headers.get('content-type') ?? '')) return text;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    // The participant said it succeeded: its effect happened. Keep what it sent rather than fail the step.
    return text;
  }
}

function answerError(what: string, url: string, method: string, response: Response, text: string): Error {
  const excerpt = text.length > BODY_EXCERPT_CHARS ? `${text.slice(0, BODY_EXCERPT_CHARS)}…` : text;
  const answered = `${what} answered ${response.status}${response.statusText ? ` ${response.statusText}` : ''}${excerpt ? `: ${excerpt.replace(/\s+/g, ' ')}` : ''}`;
  const details = { url: maskSecrets(url), method, status: response.status };
  if (response.status >= 500 || RETRYABLE_CLIENT_STATUSES.has(response.status)) {
    const retryAfterMs = retryAfterOf(response.headers.get('retry-after'), Date.now());
    const when = retryAfterMs === undefined ? "per the step's policy" : `in ${retryAfterMs} ms (Retry-After)`;
    return new RetryableError(`${answered}; retrying ${when}.`, {
      code: 'HTTP_CALL_FAILED',
      details,
      ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
    });
  }
  return new TerminalError(
    `${answered}; the participant refused the request, so the step fails without retries.`,
    {
      code: 'HTTP_CALL_REJECTED',
      details,
    },
  );
}

/** `Retry-After` as milliseconds from `nowMs`: delay-seconds or an HTTP date (RFC 9110 §10.2.3). */
export function retryAfterOf(header: string | null, nowMs: number): number | undefined {
  if (header === null) return undefined;
  const value = header.trim();
  if (/^\d+$/.test(value)) return Number(value) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - nowMs);
}

function reasonOf(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = error.cause instanceof Error ? `: ${error.cause.message}` : '';
  return `${error.name === 'AbortError' || error.name === 'TimeoutError' ? 'aborted' : error.message}${cause}`;
}
