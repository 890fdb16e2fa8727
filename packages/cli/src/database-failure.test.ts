import { ConvergeError } from '@converge/core';
import { describe, expect, it } from 'vitest';
import { databaseFailure } from './database-failure.js';

const DATABASE = 'postgres://app:***@db:5432/orders';

function driverError(message: string, code: string): Error {
  return Object.assign(new Error(message), { code });
}

describe('databaseFailure', () => {
  it("passes Converge's own errors through unchanged", () => {
    const error = new ConvergeError('MIGRATION_FAILED', 'Step 1 failed.');
    expect(databaseFailure(error, DATABASE)).toBe(error);
  });

  it.each([
    ['connect ECONNREFUSED 10.0.0.1:5432', 'ECONNREFUSED'],
    ['getaddrinfo ENOTFOUND db', 'ENOTFOUND'],
    ['password authentication failed for user "app"', '28P01'],
    ['database "orders" does not exist', '3D000'],
  ])('reports %s as DATABASE_CONNECTION_FAILED naming the database', (message, code) => {
    const cause = driverError(message, code);
    const error = databaseFailure(cause, DATABASE) as ConvergeError;
    expect(error.code).toBe('DATABASE_CONNECTION_FAILED');
    expect(error.message).toBe(
      `Cannot connect to database ${DATABASE}: ${message}. Check that the server is running and reachable, and that the host, port, database name, user and password are right.`,
    );
    expect(error.cause).toBe(cause);
  });

  it('reports other driver errors as DATABASE_FAILED, on one line', () => {
    const error = databaseFailure(driverError('permission denied\nfor schema public.', '42501'), DATABASE);
    expect(error).toMatchObject({
      code: 'DATABASE_FAILED',
      message: `Database ${DATABASE} failed: permission denied for schema public.`,
    });
  });

  it('explains an AggregateError with an empty message by its inner errors', () => {
    const cause = Object.assign(
      new AggregateError(
        [new Error('connect ECONNREFUSED ::1:5432'), new Error('connect ECONNREFUSED 127.0.0.1:5432')],
        '',
      ),
      { code: 'ECONNREFUSED' },
    );
    expect(databaseFailure(cause, DATABASE)).toMatchObject({
      code: 'DATABASE_CONNECTION_FAILED',
      message: expect.stringContaining(
        ': connect ECONNREFUSED ::1:5432; connect ECONNREFUSED 127.0.0.1:5432.',
      ),
    });
  });
});
