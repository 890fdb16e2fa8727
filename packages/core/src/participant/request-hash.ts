/**
 * What makes two requests under one idempotency key "the same request": method, path (with its
 * query) and body. A JSON body is hashed in canonical form (object keys sorted, no whitespace), so
 * a client that re-serializes the same values in another key order or layout still gets its
 * replay; any other body is hashed as its exact text.
 */
import { createHash } from 'node:crypto';

/**
 * The request hash stored with an idempotency key: 64 hex characters (sha256).
 *
 * @example requestHash('POST', '/payments?dry=0', '{"amount":5,"customer":"c1"}')
 */
export function requestHash(method: string, path: string, body: string): string {
  const canonical = canonicalJson(body);
  return createHash('sha256')
    .update(`${method.toUpperCase()}\n${path}\n`)
    .update(canonical === undefined ? `text\n${body}` : `json\n${canonical}`)
    .digest('hex');
}

/** The canonical JSON text of `body`, or undefined when it is not JSON (or nests too deep to walk). */
function canonicalJson(body: string): string | undefined {
  if (body.trim() === '') return undefined;
  try {
    return JSON.stringify(sortKeys(JSON.parse(body)));
  } catch {
    return undefined;
  }
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value === null || typeof value !== 'object') return value;
  const sorted: Record<string, unknown> = {};
  for (const key of Object.keys(value).sort())
    sorted[key] = sortKeys((value as Record<string, unknown>)[key]);
  return sorted;
}
