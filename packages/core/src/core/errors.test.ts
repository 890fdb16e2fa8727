import { describe, expect, it } from 'vitest';
import {
  ConvergeError,
  describeError,
  isConvergeError,
  isRetryableError,
  isTerminalError,
  isTransientDatabaseError,
  RetryableError,
  TerminalError,
} from './errors.js';

/**
 * Stands in for the error classes of a second copy of @converge/core (a duplicate in
 * node_modules): a different class, so `instanceof` fails, but carrying the same global brands.
 */
class OtherCopyError extends Error {
  constructor(brands: readonly string[]) {
    super('from another copy');
    for (const brand of brands) Object.defineProperty(this, Symbol.for(brand), { value: true });
  }
}

describe('ConvergeError', () => {
  it('carries its code, message, name and details', () => {
    const error = new ConvergeError('MESSAGE_INVALID', "Message 0: 'type' is missing.", {
      details: { field: 'type' },
    });

    expect(error).toBeInstanceOf(Error);
    expect(error.code).toBe('MESSAGE_INVALID');
    expect(error.message).toBe("Message 0: 'type' is missing.");
    expect(error.name).toBe('ConvergeError');
    expect(error.details).toEqual({ field: 'type' });
    expect(String(error)).toBe("ConvergeError: Message 0: 'type' is missing.");
  });

  it('has empty details and no cause when none are given', () => {
    const error = new ConvergeError('X', 'x');
    expect(error.details).toEqual({});
    expect(error.cause).toBeUndefined();
  });

  it('keeps the cause it was given', () => {
    const cause = new Error('connection reset');
    expect(new ConvergeError('X', 'x', { cause }).cause).toBe(cause);
    expect(new TerminalError('x', { cause }).cause).toBe(cause);
    expect(new RetryableError('x', { cause }).cause).toBe(cause);
  });
});

describe('TerminalError', () => {
  it('is a ConvergeError with code TERMINAL unless another code is given', () => {
    const error = new TerminalError('Card declined.');
    expect(error).toBeInstanceOf(ConvergeError);
    expect(error.name).toBe('TerminalError');
    expect(error.code).toBe('TERMINAL');
    expect(new TerminalError('x', { code: 'CARD_DECLINED' }).code).toBe('CARD_DECLINED');
  });

  it('is classified as terminal, not retryable', () => {
    const error = new TerminalError('x');
    expect(isConvergeError(error)).toBe(true);
    expect(isTerminalError(error)).toBe(true);
    expect(isRetryableError(error)).toBe(false);
  });
});

describe('RetryableError', () => {
  it('is a ConvergeError with code RETRYABLE unless another code is given', () => {
    const error = new RetryableError('Rate limited.');
    expect(error).toBeInstanceOf(ConvergeError);
    expect(error.name).toBe('RetryableError');
    expect(error.code).toBe('RETRYABLE');
    expect(new RetryableError('x', { code: 'RATE_LIMITED' }).code).toBe('RATE_LIMITED');
  });

  it('carries retryAfterMs when given, and undefined otherwise', () => {
    expect(new RetryableError('x', { retryAfterMs: 1500 }).retryAfterMs).toBe(1500);
    expect(new RetryableError('x').retryAfterMs).toBeUndefined();
  });

  it('is classified as retryable, not terminal', () => {
    const error = new RetryableError('x');
    expect(isConvergeError(error)).toBe(true);
    expect(isRetryableError(error)).toBe(true);
    expect(isTerminalError(error)).toBe(false);
  });
});

describe('brand checks', () => {
  it('recognise errors from another copy of the package', () => {
    const base = new OtherCopyError(['converge.error']);
    const terminal = new OtherCopyError(['converge.error', 'converge.error.terminal']);
    const retryable = new OtherCopyError(['converge.error', 'converge.error.retryable']);

    expect(base).not.toBeInstanceOf(ConvergeError);
    expect(isConvergeError(base)).toBe(true);
    expect(isTerminalError(base)).toBe(false);
    expect(isTerminalError(terminal)).toBe(true);
    expect(isRetryableError(terminal)).toBe(false);
    expect(isRetryableError(retryable)).toBe(true);
  });

  it('reject a plain ConvergeError as terminal or retryable', () => {
    const error = new ConvergeError('X', 'x');
    expect(isTerminalError(error)).toBe(false);
    expect(isRetryableError(error)).toBe(false);
  });

  it.each([
    ['a plain Error', new Error('x')],
    ['an Error with a code', Object.assign(new Error('x'), { code: 'MESSAGE_INVALID' })],
    ['an object with a name but no brand', { name: 'ConvergeError', code: 'X', message: 'x' }],
    ['null', null],
    ['undefined', undefined],
    ['a string', 'ConvergeError'],
  ])('reject %s', (_what, value) => {
    expect(isConvergeError(value)).toBe(false);
    expect(isTerminalError(value)).toBe(false);
    expect(isRetryableError(value)).toBe(false);
  });
});

describe('isTransientDatabaseError', () => {
  const withCode = (code: string, message = 'driver error') => Object.assign(new Error(message), { code });

  it.each([
    ['40001', 'serialization_failure'],
    ['40P01', 'deadlock_detected'],
    ['57P01', 'admin_shutdown'],
    ['08006', 'connection_failure'],
    ['SQLITE_BUSY', 'SQLite busy'],
    ['ECONNREFUSED', 'connection refused'],
  ])('is true for %s (%s)', (code) => {
    expect(isTransientDatabaseError(withCode(code))).toBe(true);
  });

  it('is true for errors known by their message only', () => {
    expect(isTransientDatabaseError(new Error('Connection terminated unexpectedly'))).toBe(true);
    expect(isTransientDatabaseError(new Error('SqliteError: database is locked'))).toBe(true);
  });

  it.each([
    ['unique_violation 23505', withCode('23505', 'duplicate key value violates unique constraint')],
    ['syntax_error 42601', withCode('42601', 'syntax error at or near "SELEC"')],
    ['a plain Error', new Error('boom')],
    ['a code given as a number', { code: 40001 }],
    ['a bare code string', 'ECONNREFUSED'],
    ['null', null],
    ['undefined', undefined],
  ])('is false for %s', (_what, error) => {
    expect(isTransientDatabaseError(error)).toBe(false);
  });
});

describe('describeError', () => {
  it('uses the class name and message of an Error', () => {
    expect(describeError(new TypeError('bad input'))).toEqual({
      errorClass: 'TypeError',
      message: 'bad input',
    });
    expect(describeError(new TerminalError('Card declined.'))).toEqual({
      errorClass: 'TerminalError',
      message: 'Card declined.',
    });
  });

  it.each([
    ['a string', 'boom', { errorClass: 'string', message: 'boom' }],
    ['a number', 42, { errorClass: 'number', message: '42' }],
    ['undefined', undefined, { errorClass: 'undefined', message: 'undefined' }],
    ['null', null, { errorClass: 'object', message: 'null' }],
    ['a plain object', { reason: 'x' }, { errorClass: 'object', message: '[object Object]' }],
  ])('describes %s by its type', (_what, value, expected) => {
    expect(describeError(value)).toEqual(expected);
  });

  // Bug: String() throws "Cannot convert object to primitive value" for an object without a
  // prototype, so describeError itself throws, although it promises to describe any thrown value.
  it('describes an object without a prototype instead of throwing', () => {
    const thrown: unknown = Object.assign(Object.create(null) as object, { reason: 'x' });
    expect(describeError(thrown)).toMatchObject({ errorClass: 'object' });
  });
});
