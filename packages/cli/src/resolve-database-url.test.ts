import { describe, expect, it } from 'vitest';
import { passwordOf, resolveDatabaseUrl } from './resolve-database-url.js';

describe('resolveDatabaseUrl', () => {
  it('prefers --database, then CONVERGE_DATABASE_URL', () => {
    const env = { CONVERGE_DATABASE_URL: 'sqlite:env.db' };
    expect(resolveDatabaseUrl('sqlite:flag.db', env)).toEqual({ url: 'sqlite:flag.db', from: '--database' });
    expect(resolveDatabaseUrl(undefined, env)).toEqual({
      url: 'sqlite:env.db',
      from: 'CONVERGE_DATABASE_URL',
    });
  });

  it('throws CONFIG_INVALID naming both ways when neither is given (an empty variable counts as unset)', () => {
    for (const env of [{}, { CONVERGE_DATABASE_URL: '  ' }]) {
      expect(() => resolveDatabaseUrl(undefined, env)).toThrow(
        expect.objectContaining({
          code: 'CONFIG_INVALID',
          message: expect.stringMatching(/--database <url>.*CONVERGE_DATABASE_URL/),
        }),
      );
    }
  });
});

describe('passwordOf', () => {
  it('returns the password of a URL as written, or undefined', () => {
    expect(passwordOf('postgres://app:p%40ss@db/orders')).toBe('p%40ss');
    expect(passwordOf('postgres://app@db/orders')).toBeUndefined();
    expect(passwordOf('sqlite:app.db')).toBeUndefined();
    expect(passwordOf('not a url')).toBeUndefined();
  });
});
