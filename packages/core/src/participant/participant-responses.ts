/**
 * The answers the participant helper gives on its own (RFC 9457 problem details), and the rules
 * for an `Idempotency-Key` header. Shared by the node:http handler and the framework middleware so
 * both refuse the same requests with the same words.
 */
import type { StoredResponse } from '../ports/idempotency-store.js';

/** The request header that carries the key (the IETF httpapi draft's name). */
export const IDEMPOTENCY_KEY_HEADER = 'idempotency-key';
/** Set to `true` on a response that was replayed from storage. */
export const IDEMPOTENT_REPLAYED_HEADER = 'idempotent-replayed';
/** The largest request body read by default: 1 MiB. */
export const DEFAULT_MAX_BODY_BYTES = 1_048_576;
/** The longest key accepted. */
export const MAX_IDEMPOTENCY_KEY_LENGTH = 255;

const PRINTABLE_ASCII = /^[\x20-\x7e]+$/;

/** A problem-details response (`application/problem+json`). */
export function problemResponse(
  status: number,
  title: string,
  detail: string,
  extra: Readonly<Record<string, unknown>> = {},
): StoredResponse {
  return {
    status,
    headers: { 'content-type': 'application/problem+json' },
    body: JSON.stringify({ type: 'about:blank', title, status, detail, ...extra }),
  };
}

/**
 * Checks an `Idempotency-Key` header value: `{ key }` (undefined when absent and not required)
 * or the 400 response that refuses it.
 */
export function checkIdempotencyKey(
  value: string | undefined,
  requireKey: boolean,
): { readonly key: string | undefined } | { readonly refusal: StoredResponse } {
  if (value === undefined) {
    return requireKey
      ? refuse(
          'This endpoint requires an Idempotency-Key header; send one that stays the same on every retry of the request (for example "<saga id>:<step>").',
        )
      : { key: undefined };
  }
  if (value.length === 0 || value.length > MAX_IDEMPOTENCY_KEY_LENGTH || !PRINTABLE_ASCII.test(value)) {
    const problem =
      value.length === 0
        ? 'is empty'
        : value.length > MAX_IDEMPOTENCY_KEY_LENGTH
          ? `is ${value.length} characters long`
          : 'contains a character outside printable ASCII';
    return refuse(
      `The Idempotency-Key header ${problem}; send 1 to ${MAX_IDEMPOTENCY_KEY_LENGTH} printable ASCII characters (for example "<saga id>:<step>").`,
    );
  }
  return { key: value };
}

function refuse(detail: string): { readonly refusal: StoredResponse } {
  return { refusal: problemResponse(400, 'Invalid Idempotency-Key', detail) };
}

/** The 413 for a body over `maxBodyBytes`. */
export function bodyTooLarge(maxBodyBytes: number): StoredResponse {
  return problemResponse(
    413,
    'Request body too large',
    `The request body is larger than ${maxBodyBytes} bytes, the most this endpoint reads; send a smaller body or raise maxBodyBytes.`,
  );
}

/** The 500 for a handler that threw: nothing was recorded, so a retry runs the request again. */
export const HANDLER_FAILED: StoredResponse = Object.freeze(
  problemResponse(
    500,
    'Handler failed',
    'The request handler failed and its transaction was rolled back: nothing was applied or recorded. Send the request again with the same Idempotency-Key.',
  ),
);
