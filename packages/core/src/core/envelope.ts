import { ConvergeError } from './errors.js';
import { isUuid, newMessageId } from './ids.js';

/**
 * A message as it travels: a CloudEvents 1.0 structured-mode event with JSON data and four
 * extension attributes. `subject` is the partition key; `sequence` counts the messages of one
 * (`source`, `subject`) pair from 1 without gaps, assigned inside the producer's transaction.
 */
export interface Envelope<TData = unknown> {
  readonly specversion: '1.0';
  /** UUIDv7. */
  readonly id: string;
  /** The owning service that wrote the message. */
  readonly source: string;
  readonly type: string;
  /** RFC 3339 time at which the producer appended the message. */
  readonly time: string;
  readonly datacontenttype: 'application/json';
  /** The partition key: messages of one key are applied in `sequence` order. */
  readonly subject: string;
  /** Position of this message among its key's messages from `source`, from 1, gap-free. */
  readonly sequence: number;
  readonly traceparent?: string;
  readonly correlationid?: string;
  readonly causationid?: string;
  /**
   * A command's idempotency key (a saga step's `<sagaId>:<step>`): the same on every attempt, so
   * the participant applies the command once however often it is sent (see `commandHandler`).
   */
  readonly idempotencykey?: string;
  /** A command's reply address: the message type the participant's reply is sent as. */
  readonly replyto?: string;
  readonly data: TData;
}

/** What a producer hands to `append`: the outbox fills in id, source, time and sequence. */
export interface MessageDraft<TData = unknown> {
  readonly type: string;
  /** The partition key (the aggregate's id): order is kept per key. */
  readonly key: string;
  readonly data: TData;
  /** Defaults to a new UUIDv7. */
  readonly id?: string;
  readonly traceparent?: string;
  readonly correlationId?: string;
  readonly causationId?: string;
  /** A command's idempotency key (1-255 characters), sent as the `idempotencykey` attribute. */
  readonly idempotencyKey?: string;
  /** A command's reply address (a message type), sent as the `replyto` attribute. */
  readonly replyTo?: string;
}

/** Default largest serialized envelope, in bytes (256 KiB). */
export const DEFAULT_MAX_MESSAGE_BYTES = 256 * 1024;

const NAME = /^[A-Za-z0-9][A-Za-z0-9._:/-]{0,254}$/;
const TRACEPARENT = /^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/;

function invalid(index: number, field: string, problem: string, remedy: string): ConvergeError {
  return new ConvergeError('MESSAGE_INVALID', `Message ${index}: '${field}' ${problem}; ${remedy}.`, {
    details: { index, field },
  });
}

/** Walks `value` and names the first part JSON cannot carry faithfully, or returns undefined. */
function unserializablePath(value: unknown, path: string, seen: Set<object>): string | undefined {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return undefined;
    case 'number':
      return Number.isFinite(value) ? undefined : path;
    case 'object': {
      if (value === null || value instanceof Date) return undefined;
      if (seen.has(value)) return path;
      seen.add(value);
      const entries = Array.isArray(value)
        ? value.map((v, i) => [String(i), v] as const)
        : Object.entries(value);
      for (const [k, v] of entries) {
        const found = unserializablePath(v, `${path}.${k}`, seen);
        if (found !== undefined) return found;
      }
      seen.delete(value);
      return undefined;
    }
    default:
      return path;
  }
}

/**
 * Turns a producer's draft into an envelope (sequence still 0) after checking every attribute.
 *
 * @throws ConvergeError `MESSAGE_INVALID` naming the message index and the offending field.
 */
export function draftToEnvelope(draft: MessageDraft, index: number, source: string, now: Date): Envelope {
  if (typeof draft !== 'object' || draft === null) {
    throw invalid(index, 'message', 'is not an object', 'pass { type, key, data }');
  }
  if (typeof draft.type !== 'string' || !NAME.test(draft.type)) {
    throw invalid(
      index,
      'type',
      'is missing or not a name',
      "use letters, digits and '.', e.g. 'customer.unsubscribed'",
    );
  }
  if (typeof draft.key !== 'string' || draft.key.length === 0 || draft.key.length > 255) {
    throw invalid(index, 'key', 'is missing or not 1-255 characters', "pass the aggregate's id as a string");
  }
  if (draft.key.includes('\u0000')) {
    throw invalid(index, 'key', 'contains a NUL character', 'remove the NUL (U+0000) from the key');
  }
  if (draft.id !== undefined && (typeof draft.id !== 'string' || !isUuid(draft.id))) {
    throw invalid(index, 'id', 'is not a UUID', 'omit it to get a UUIDv7');
  }
  if (draft.traceparent !== undefined && !TRACEPARENT.test(draft.traceparent)) {
    throw invalid(
      index,
      'traceparent',
      'is not a W3C traceparent',
      "use '00-<32 hex>-<16 hex>-<2 hex>' or omit it",
    );
  }
  if (
    draft.idempotencyKey !== undefined &&
    (typeof draft.idempotencyKey !== 'string' ||
      draft.idempotencyKey.length === 0 ||
      draft.idempotencyKey.length > 255 ||
      draft.idempotencyKey.includes('\u0000'))
  ) {
    throw invalid(
      index,
      'idempotencyKey',
      'is not 1-255 characters without NUL',
      "use the step's key (context.idempotencyKey) or omit it",
    );
  }
  if (draft.replyTo !== undefined && (typeof draft.replyTo !== 'string' || !NAME.test(draft.replyTo))) {
    throw invalid(
      index,
      'replyTo',
      'is not a message type name',
      "use letters, digits and '.', e.g. 'orders.saga.reply', or omit it",
    );
  }
  if (draft.data === undefined) {
    throw invalid(index, 'data', 'is missing', 'pass a JSON value (use null for none)');
  }
  const bad = unserializablePath(draft.data, 'data', new Set());
  if (bad !== undefined) {
    throw invalid(
      index,
      bad,
      'cannot be represented in JSON',
      'use strings, finite numbers, booleans, null, arrays and plain objects',
    );
  }
  // After the cycle check: a cyclic value would make this walk explode.
  const hostile = hostileStructure(draft.data, 'data');
  if (hostile !== undefined) {
    throw invalid(
      index,
      'data',
      `is not accepted (${hostile})`,
      "send plain data: no '__proto__' keys, no 'constructor.prototype', at most 64 levels deep",
    );
  }

  return {
    specversion: '1.0',
    id: draft.id ?? newMessageId(),
    source,
    type: draft.type,
    time: now.toISOString(),
    datacontenttype: 'application/json',
    subject: draft.key,
    sequence: 0,
    ...(draft.traceparent === undefined ? {} : { traceparent: draft.traceparent }),
    ...(draft.correlationId === undefined ? {} : { correlationid: draft.correlationId }),
    ...(draft.causationId === undefined ? {} : { causationid: draft.causationId }),
    ...(draft.idempotencyKey === undefined ? {} : { idempotencykey: draft.idempotencyKey }),
    ...(draft.replyTo === undefined ? {} : { replyto: draft.replyTo }),
    data: JSON.parse(JSON.stringify(draft.data)) as unknown,
  };
}

/**
 * Serializes an envelope and enforces the size limit.
 *
 * @throws ConvergeError `MESSAGE_TOO_LARGE` with the size and the limit.
 */
export function serializeEnvelope(envelope: Envelope, index: number, maxBytes: number): string {
  const text = JSON.stringify(envelope);
  const bytes = Buffer.byteLength(text, 'utf8');
  if (bytes > maxBytes) {
    throw new ConvergeError(
      'MESSAGE_TOO_LARGE',
      `Message ${index} (type '${envelope.type}', key '${envelope.subject}') is ${bytes} bytes, over the limit of ${maxBytes}; store large content elsewhere and send a reference, or raise maxMessageBytes.`,
      { details: { index, field: 'data', bytes, maxBytes } },
    );
  }
  return text;
}

/** Deepest nesting of objects and arrays accepted in a message. */
export const MAX_NESTING_DEPTH = 64;

/**
 * Finds what no message should carry: nesting deeper than `MAX_NESTING_DEPTH` (a recursive
 * handler would overflow its stack), a `__proto__` key, or a `constructor` key holding a
 * `prototype` (the shapes of prototype-pollution attacks). Iterative, so any depth is safe to scan.
 * Returns a description of the first problem, or undefined.
 */
export function hostileStructure(value: unknown, path = '$'): string | undefined {
  // Paths are only built for the node that is reported: this scan runs on every message.
  interface Node {
    readonly value: unknown;
    readonly parent: Node | null;
    readonly key: string;
    readonly inArray: boolean;
    readonly depth: number;
  }
  const pathOf = (node: Node): string => {
    const parts: string[] = [];
    for (let at: Node | null = node; at?.parent != null; at = at.parent) {
      parts.push(at.inArray ? `[${at.key}]` : `.${at.key}`);
    }
    return path + parts.reverse().join('');
  };
  const stack: Node[] = [{ value, parent: null, key: '', inArray: false, depth: 0 }];
  while (stack.length > 0) {
    const current = stack.pop()!;
    if (typeof current.value !== 'object' || current.value === null) continue;
    if (current.depth >= MAX_NESTING_DEPTH) {
      return `${pathOf(current)} is nested deeper than ${MAX_NESTING_DEPTH} levels`;
    }
    const inArray = Array.isArray(current.value);
    for (const [key, child] of Object.entries(current.value)) {
      const node: Node = { value: child, parent: current, key, inArray, depth: current.depth + 1 };
      if (key === '__proto__') return `${pathOf(node)}: a '__proto__' key is not accepted`;
      if (key === 'constructor' && typeof child === 'object' && child !== null && 'prototype' in child) {
        return `${pathOf(node)}: a 'constructor' key holding a 'prototype' is not accepted`;
      }
      if (typeof child === 'object' && child !== null) stack.push(node);
    }
  }
  return undefined;
}

/** Why a received message could not even be looked at. */
export type EnvelopeProblem =
  | { readonly reason: 'MALFORMED'; readonly detail: string }
  | { readonly reason: 'MISSING_ATTRIBUTE'; readonly field: string; readonly detail: string };

const REQUIRED = ['id', 'source', 'type', 'subject'] as const;

/**
 * Reads a received envelope defensively: the consumer side never trusts the wire.
 * Returns the envelope, or the problem (a value, not an exception).
 */
export function parseEnvelope(
  raw: unknown,
): { ok: true; envelope: Envelope } | { ok: false; problem: EnvelopeProblem } {
  let value = raw;
  if (typeof raw === 'string') {
    try {
      value = JSON.parse(raw);
    } catch {
      return { ok: false, problem: { reason: 'MALFORMED', detail: 'the body is not JSON' } };
    }
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { ok: false, problem: { reason: 'MALFORMED', detail: 'the body is not a JSON object' } };
  }
  const hostile = hostileStructure(value);
  if (hostile !== undefined) return { ok: false, problem: { reason: 'MALFORMED', detail: hostile } };
  const record = value as Record<string, unknown>;
  for (const field of REQUIRED) {
    if (typeof record[field] !== 'string' || (record[field] as string).length === 0) {
      return {
        ok: false,
        problem: { reason: 'MISSING_ATTRIBUTE', field, detail: `'${field}' is missing or empty` },
      };
    }
    if ((record[field] as string).includes('\u0000')) {
      // PostgreSQL text cannot hold NUL; such an envelope could not even be dead-lettered as-is.
      return { ok: false, problem: { reason: 'MALFORMED', detail: `'${field}' contains a NUL character` } };
    }
    // A damaged id, source, type or key cannot be trusted to name the message or its position.
    const damage = textDamage(record[field] as string);
    if (damage !== undefined) {
      return { ok: false, problem: { reason: 'MALFORMED', detail: `'${field}' ${damage}` } };
    }
  }
  const sequence = record.sequence;
  if (typeof sequence !== 'number' || !Number.isSafeInteger(sequence) || sequence < 1) {
    return {
      ok: false,
      problem: {
        reason: 'MISSING_ATTRIBUTE',
        field: 'sequence',
        detail: "'sequence' is missing or not a positive integer",
      },
    };
  }
  return { ok: true, envelope: record as unknown as Envelope };
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * Finds the traces bytes that were not valid UTF-8 leave in a string that travelled as text: a
 * lone surrogate (no UTF-8 encoding exists for it, so it cannot be stored or forwarded faithfully)
 * or U+FFFD, the replacement character a decoder puts where it found invalid bytes. Returns a
 * description naming the first one and its offset (in UTF-16 code units), or undefined.
 *
 * U+FFFD is also a character a producer may send on purpose, but it never carries information:
 * whatever was there before was lost when the bytes were decoded. Converge refuses it rather than
 * apply data that is not what the producer sent.
 */
export function textDamage(text: string): string | undefined {
  const lone = LONE_SURROGATE.exec(text);
  if (lone !== null) {
    const unit = lone[0].charCodeAt(0).toString(16).toUpperCase();
    return `contains a lone surrogate (U+${unit} at offset ${lone.index}): it is not well-formed Unicode and has no UTF-8 encoding`;
  }
  const replaced = text.indexOf('\uFFFD');
  if (replaced !== -1) {
    return `contains U+FFFD (the replacement character) at offset ${replaced}: bytes that were not valid UTF-8 were replaced on the way, so it is not what the producer sent`;
  }
  return undefined;
}
