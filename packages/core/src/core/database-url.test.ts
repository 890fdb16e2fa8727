import { describe, expect, it } from 'vitest';
import { maskSecrets, parseDatabaseUrl } from './database-url.js';
import { ConvergeError } from './errors.js';

function thrownBy(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error('expected the call to throw, but it returned');
}

describe('maskSecrets', () => {
  it.each([
    ['a bare URL', 'postgres://app:s3cret@db:5432/orders', 'postgres://app:***@db:5432/orders', 's3cret'],
    [
      'a URL inside a sentence',
      'could not connect to postgres://app:s3cret@db:5432/orders: connection refused',
      'could not connect to postgres://app:***@db:5432/orders: connection refused',
      's3cret',
    ],
    [
      'a quoted URL',
      "Database URL 'postgresql://app:s3cret@db/orders' cannot be used.",
      "Database URL 'postgresql://app:***@db/orders' cannot be used.",
      's3cret',
    ],
    [
      'a password with percent-encoded characters',
      'postgres://app:p%40ss%2Fw0rd@db/orders',
      'postgres://app:***@db/orders',
      'p%40ss',
    ],
    [
      'a password containing a colon',
      'postgres://app:pa:ss@db/orders',
      'postgres://app:***@db/orders',
      'pa:ss',
    ],
    [
      'a password query parameter',
      'postgres://db/orders?user=app&password=s3cret&sslmode=require',
      'postgres://db/orders?user=app&password=***&sslmode=require',
      's3cret',
    ],
    [
      'a password query parameter first in the query',
      'postgres://db/orders?password=s3cret',
      'postgres://db/orders?password=***',
      's3cret',
    ],
  ])('masks the password in %s', (_what, text, expected, secret) => {
    const masked = maskSecrets(text);
    expect(masked).toBe(expected);
    expect(masked).not.toContain(secret);
  });

  it('masks every URL when a text holds several', () => {
    const text = 'primary postgres://a:first-secret@h1/x, replica postgresql://b:second-secret@h2/y';
    expect(maskSecrets(text)).toBe('primary postgres://a:***@h1/x, replica postgresql://b:***@h2/y');
  });

  it.each([
    ['a URL without credentials', 'postgres://db:5432/orders'],
    ['a user without a password', 'postgres://app@db:5432/orders'],
    ['a SQLite path', 'sqlite:data/app.db'],
    ['a sentence without URLs', 'relay r1: 3 messages published at 10:15:02'],
    ['an http URL with a port', 'see http://localhost:8080/status for details'],
  ])('leaves %s unchanged', (_what, text) => {
    expect(maskSecrets(text)).toBe(text);
  });
});

describe('parseDatabaseUrl', () => {
  it.each([
    'postgres://app:s3cret@db:5432/orders',
    'postgresql://app:s3cret@db:5432/orders',
    'postgres://localhost/orders',
  ])('reads %s as PostgreSQL', (url) => {
    expect(parseDatabaseUrl(url)).toEqual({ kind: 'postgres', url });
  });

  it('ignores surrounding whitespace', () => {
    expect(parseDatabaseUrl('  postgres://db/orders\n')).toEqual({
      kind: 'postgres',
      url: 'postgres://db/orders',
    });
  });

  it.each([
    ['sqlite:relative/path.db', 'relative/path.db'],
    ['sqlite:/abs/path.db', '/abs/path.db'],
    ['sqlite:///abs/path.db', '/abs/path.db'],
    ['sqlite::memory:', ':memory:'],
  ])('reads %s as the SQLite file %s', (url, path) => {
    expect(parseDatabaseUrl(url)).toEqual({ kind: 'sqlite', path });
  });

  it.each([
    ['an unsupported scheme', 'mysql://app:s3cret@db/orders'],
    ['an empty string', ''],
    ['a blank string', '   '],
    ['sqlite: without a path', 'sqlite:'],
    ['a malformed PostgreSQL URL', 'postgres://app:s3cret@db:notaport/orders'],
  ])('rejects %s with DATABASE_URL_INVALID', (_what, url) => {
    const error = thrownBy(() => parseDatabaseUrl(url));
    expect(error).toBeInstanceOf(ConvergeError);
    expect(error).toMatchObject({ code: 'DATABASE_URL_INVALID' });
    expect((error as ConvergeError).message).toContain('sqlite:');
  });

  it.each([
    'mysql://app:s3cret@db/orders',
    'postgres://app:s3cret@db:notaport/orders',
    'mssql://db/orders?user=app&password=s3cret',
  ])('never puts the password of %s in the error message or details', (url) => {
    const error = thrownBy(() => parseDatabaseUrl(url)) as ConvergeError;
    expect(error.code).toBe('DATABASE_URL_INVALID');
    expect(error.message).not.toContain('s3cret');
    expect(JSON.stringify(error.details)).not.toContain('s3cret');
  });
});
