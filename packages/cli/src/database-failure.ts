import { ConvergeError, isConvergeError, isTransientDatabaseError } from '@converge/core';

/** Socket and resolver codes meaning "no connection was made", beyond core's transient table. */
const CONNECT_CODES: ReadonlySet<string> = new Set(['ENOTFOUND', 'EAI_AGAIN', 'ENETUNREACH', 'ENOENT']);

/**
 * SQLSTATE classes meaning the session never got going: 08 connection exception, 28 invalid
 * authorization (wrong password), 3D invalid catalog name (no such database).
 */
const CONNECT_SQLSTATE = /^(08|28|3D)[0-9A-Z]{3}$/;

/**
 * Turns an error thrown while the command used the database into a `ConvergeError` that names the
 * database (`database` must already be masked). Converge's own errors pass through unchanged; a
 * driver error becomes `DATABASE_CONNECTION_FAILED` when no usable connection was made and
 * `DATABASE_FAILED` otherwise, with the driver's message on one line.
 *
 * @example throw databaseFailure(error, 'postgres://app:***@db:5432/orders');
 */
export function databaseFailure(error: unknown, database: string): unknown {
  if (isConvergeError(error)) return error;
  const reason = driverReason(error);
  if (isConnectionFailure(error)) {
    return new ConvergeError(
      'DATABASE_CONNECTION_FAILED',
      `Cannot connect to database ${database}: ${reason}. Check that the server is running and reachable, and that the host, port, database name, user and password are right.`,
      { cause: error, details: { database } },
    );
  }
  return new ConvergeError('DATABASE_FAILED', `Database ${database} failed: ${reason}.`, {
    cause: error,
    details: { database },
  });
}

function isConnectionFailure(error: unknown): boolean {
  if (isTransientDatabaseError(error)) return true;
  const code = codeOf(error);
  return code !== undefined && (CONNECT_CODES.has(code) || CONNECT_SQLSTATE.test(code));
}

function codeOf(error: unknown): string | undefined {
  const code = typeof error === 'object' && error !== null ? (error as { code?: unknown }).code : undefined;
  return typeof code === 'string' ? code : undefined;
}

/**
 * The driver's message on one line. Node reports a refused connection to a name with several
 * addresses as an `AggregateError` with an empty message, so fall back to its inner errors, then
 * to its code.
 */
function driverReason(error: unknown): string {
  let text = '';
  if (error instanceof AggregateError && error.message.length === 0) {
    text = error.errors
      .map((inner: unknown) => (inner instanceof Error ? inner.message : String(inner)))
      .join('; ');
  } else if (error instanceof Error) {
    text = error.message;
  } else {
    text = String(error);
  }
  if (text.trim().length === 0) text = codeOf(error) ?? 'unknown error';
  return text.replace(/\s+/g, ' ').trim().replace(/\.$/, '');
}
