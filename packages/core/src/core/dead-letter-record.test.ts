import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { capPayload, failureFingerprint, headersOf } from './dead-letter-record.js';

describe('failureFingerprint', () => {
  it('groups failures that differ only in ids and numbers', () => {
    const a = failureFingerprint('HANDLER_TERMINAL_ERROR', 'Error', 'customer 42 not found in 3 ms');
    const b = failureFingerprint('HANDLER_TERMINAL_ERROR', 'Error', 'customer 1077 not found in 12 ms');
    const c = failureFingerprint(
      'HANDLER_TERMINAL_ERROR',
      'Error',
      'message 01a21571-8c25-71b8-b52d-9165bbe95341 not found',
    );
    const d = failureFingerprint(
      'HANDLER_TERMINAL_ERROR',
      'Error',
      'message 0193aa71-0000-7000-8000-000000000001 not found',
    );
    expect(a).toBe(b);
    expect(c).toBe(d);
    expect(a).toMatch(/^[0-9a-f]{16}$/);
  });

  it('keeps apart different reasons, error classes and messages', () => {
    const base = failureFingerprint('HANDLER_TERMINAL_ERROR', 'Error', 'customer not found');
    expect(failureFingerprint('HANDLER_RETRIES_EXHAUSTED', 'Error', 'customer not found')).not.toBe(base);
    expect(failureFingerprint('HANDLER_TERMINAL_ERROR', 'TypeError', 'customer not found')).not.toBe(base);
    expect(failureFingerprint('HANDLER_TERMINAL_ERROR', 'Error', 'contract not found')).not.toBe(base);
  });
});

describe('capPayload', () => {
  it('keeps a payload within the cap whole', () => {
    const capped = capPayload('{"a":1}', 100);
    expect(capped).toEqual({
      body: '{"a":1}',
      sha256: createHash('sha256').update('{"a":1}').digest('hex'),
      bytes: 7,
      truncated: false,
    });
  });

  it('cuts a larger payload on a character boundary and keeps the original size and sha256', () => {
    const original = `${'é'.repeat(10)}`; // 20 bytes
    const capped = capPayload(original, 5);
    expect(capped.truncated).toBe(true);
    expect(capped.bytes).toBe(20);
    expect(capped.body).toBe('éé');
    expect(capped.sha256).toBe(createHash('sha256').update(original).digest('hex'));
  });
});

describe('headersOf', () => {
  it('keeps the envelope attributes but not the data', () => {
    const body = JSON.stringify({ id: 'x', type: 't', sequence: 3, data: { secret: 1 } });
    expect(headersOf(body)).toEqual({ id: 'x', type: 't', sequence: '3' });
  });

  it('gives no headers for a body that is not a JSON object, and never pollutes prototypes', () => {
    expect(headersOf('not json')).toEqual({});
    expect(headersOf('[1,2]')).toEqual({});
    const headers = headersOf('{"__proto__":"polluted","constructor":"x"}');
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.getPrototypeOf(headers)).toBe(Object.prototype);
    expect(headers.constructor).toBe('x');
  });
});
