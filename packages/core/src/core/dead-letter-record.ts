/**
 * What a dead letter keeps beside the failure itself: a fingerprint that groups failures of one
 * cause, the envelope's attributes as headers, and the payload capped in size (with the original's
 * sha256 and size when it was cut), so a flood of huge poison messages cannot fill the database.
 */
import { createHash } from 'node:crypto';

/** Payloads larger than this are cut in the dead-letter table. Default 256 KiB. */
export const DEFAULT_DEAD_LETTER_PAYLOAD_BYTES = 256 * 1024;

/**
 * A short stable id for "the same failure": reason, error class and the error message with ids
 * and numbers replaced, so `order 17 failed` and `order 18 failed` group together.
 *
 * @example failureFingerprint('HANDLER_TERMINAL_ERROR', 'Error', 'customer 42 not found') // 16 hex chars
 */
export function failureFingerprint(reason: string, errorClass: string, message: string): string {
  const shape = message
    .replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi, '<id>')
    .replace(/\b[0-9a-f]{12,}\b/gi, '<hex>')
    .replace(/\d+(\.\d+)?/g, '<n>')
    .replace(/\s+/g, ' ')
    .trim();
  return createHash('sha256').update(`${reason}\u0000${errorClass}\u0000${shape}`).digest('hex').slice(0, 16);
}

export interface CappedPayload {
  /** The payload, or its first `maxBytes` bytes (cut on a character boundary). */
  readonly body: string;
  /** sha256 (hex) of the whole original payload. */
  readonly sha256: string;
  /** Size of the whole original payload, in UTF-8 bytes. */
  readonly bytes: number;
  readonly truncated: boolean;
}

/** Caps `body` at `maxBytes` UTF-8 bytes, keeping the original's sha256 and size. */
export function capPayload(
  body: string,
  maxBytes: number = DEFAULT_DEAD_LETTER_PAYLOAD_BYTES,
): CappedPayload {
  const buffer = Buffer.from(body, 'utf8');
  const sha256 = createHash('sha256').update(buffer).digest('hex');
  if (buffer.length <= maxBytes) return { body, sha256, bytes: buffer.length, truncated: false };
  // Decoding a cut buffer may end in a partial character (U+FFFD); drop it.
  const cut = buffer
    .subarray(0, maxBytes)
    .toString('utf8')
    .replace(/\uFFFD$/, '');
  return { body: cut, sha256, bytes: buffer.length, truncated: true };
}

/** The envelope's attributes other than `data`, as strings, for the dead letter's headers. */
export function headersOf(body: string): Record<string, string> {
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch {
    return {};
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return {};
  const headers: Record<string, string> = {};
  for (const [name, attribute] of Object.entries(value)) {
    if (name === 'data' || name === 'data_base64') continue;
    if (typeof attribute === 'string' || typeof attribute === 'number' || typeof attribute === 'boolean') {
      Object.defineProperty(headers, name, { value: String(attribute), enumerable: true, writable: true });
    }
  }
  return headers;
}

/** Reads headers stored as JSON text back (anything unexpected gives no headers). */
export function parseStoredHeaders(text: string): Record<string, string> {
  return headersOf(text);
}

/** The first audit entry of a dead letter: why it was created. */
export function creationAuditDetail(deadLetter: {
  readonly reason: string;
  readonly errorClass: string;
  readonly errorMessage: string;
  readonly attempts: number;
}): string {
  const detail = `${deadLetter.reason} after ${deadLetter.attempts} attempt(s): ${deadLetter.errorClass}: ${deadLetter.errorMessage}`;
  return detail.length > 1000 ? `${detail.slice(0, 999)}…` : detail;
}
