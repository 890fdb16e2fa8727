/**
 * Converge's errors. Every error the library throws on purpose is a `ConvergeError` with a stable
 * string `code`; what should happen next is expressed by two subclasses:
 * `TerminalError` (stop: dead-letter or compensate) and `RetryableError` (try again, maybe after
 * `retryAfterMs`).
 *
 * Brand checks use a global symbol so that they hold across duplicate copies of this package
 * (the same reason Temporal does not rely on `instanceof`).
 */

const BRAND = Symbol.for('converge.error');
const TERMINAL = Symbol.for('converge.error.terminal');
const RETRYABLE = Symbol.for('converge.error.retryable');

/** Extra, machine-readable facts about an error (the offending field, an id, a limit). */
export type ErrorDetails = Readonly<Record<string, unknown>>;

export interface ConvergeErrorOptions {
  readonly cause?: unknown;
  readonly details?: ErrorDetails;
}

/**
 * The base of every error Converge throws on purpose.
 *
 * @example
 * throw new ConvergeError('MESSAGE_INVALID', "Message 0: 'type' is required; give it a type such as 'customer.unsubscribed'.", { details: { field: 'type' } });
 */
export class ConvergeError extends Error {
  override readonly name: string = 'ConvergeError';
  readonly code: string;
  readonly details: ErrorDetails;

  constructor(code: string, message: string, options: ConvergeErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.details = options.details ?? {};
    Object.defineProperty(this, BRAND, { value: true });
  }
}

/** Stop: retrying cannot help. A consumer dead-letters the message; a saga compensates. */
export class TerminalError extends ConvergeError {
  override readonly name: string = 'TerminalError';
  constructor(message: string, options: ConvergeErrorOptions & { code?: string } = {}) {
    super(options.code ?? 'TERMINAL', message, options);
    Object.defineProperty(this, TERMINAL, { value: true });
  }
}

/** Try again later; `retryAfterMs` overrides the policy's next delay when given. */
export class RetryableError extends ConvergeError {
  override readonly name: string = 'RetryableError';
  readonly retryAfterMs: number | undefined;
  constructor(
    message: string,
    options: ConvergeErrorOptions & { code?: string; retryAfterMs?: number } = {},
  ) {
    super(options.code ?? 'RETRYABLE', message, options);
    this.retryAfterMs = options.retryAfterMs;
    Object.defineProperty(this, RETRYABLE, { value: true });
  }
}

function hasBrand(error: unknown, brand: symbol): boolean {
  return typeof error === 'object' && error !== null && (error as Record<symbol, unknown>)[brand] === true;
}

/** True for any `ConvergeError`, even one thrown by another copy of this package. */
export function isConvergeError(error: unknown): error is ConvergeError {
  return hasBrand(error, BRAND);
}

/** True for a `TerminalError` from any copy of this package. */
export function isTerminalError(error: unknown): error is TerminalError {
  return hasBrand(error, TERMINAL);
}

/** True for a `RetryableError` from any copy of this package. */
export function isRetryableError(error: unknown): error is RetryableError {
  return hasBrand(error, RETRYABLE);
}

/**
 * Database and socket error codes that mean "the same statement may succeed later":
 * serialization failures, deadlocks, lock timeouts, connection loss, SQLite's busy/locked.
 */
const RETRYABLE_CODES: ReadonlySet<string> = new Set([
  '40001', // serialization_failure
  '40P01', // deadlock_detected
  '55P03', // lock_not_available
  '57P01', // admin_shutdown
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now
  '53300', // too_many_connections
  '08000', // connection_exception
  '08003', // connection_does_not_exist
  '08006', // connection_failure
  '08001', // sqlclient_unable_to_establish_sqlconnection
  '08004', // sqlserver_rejected_establishment_of_sqlconnection
  'SQLITE_BUSY',
  'SQLITE_LOCKED',
  'SQLITE_BUSY_SNAPSHOT',
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
]);

/** True when a driver or socket error is known to be transient (see the table above). */
export function isTransientDatabaseError(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string' && RETRYABLE_CODES.has(code)) return true;
  const message = (error as { message?: unknown }).message;
  return (
    typeof message === 'string' &&
    /Connection terminated|connection timeout|database is locked/i.test(message)
  );
}

/** A unique or primary-key violation from PostgreSQL (`23505`) or SQLite. */
export function isUniqueViolation(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const code = (error as { code?: unknown }).code;
  return code === '23505' || code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY';
}

/** A short, single-line description of any thrown value, safe to store and print. */
export function describeError(error: unknown): { errorClass: string; message: string } {
  if (error instanceof Error) return { errorClass: error.name, message: error.message };
  let message: string;
  try {
    message = String(error);
  } catch {
    message = Object.prototype.toString.call(error);
  }
  return { errorClass: typeof error, message };
}
