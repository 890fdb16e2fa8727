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

describe('resolveDatabaseUrl with a configuration file', () => {
  const config = { path: '/srv/app/converge.config.json', database: 'sqlite:/srv/app/data/app.db' };

  it('uses the file only when neither the flag nor the variable names a database, and reads it only then', () => {
    let reads = 0;
    const read = () => {
      reads += 1;
      return config;
    };
    expect(resolveDatabaseUrl('sqlite:flag.db', {}, read).from).toBe('--database');
    expect(resolveDatabaseUrl(undefined, { CONVERGE_DATABASE_URL: 'sqlite:env.db' }, read).from).toBe(
      'CONVERGE_DATABASE_URL',
    );
    expect(reads).toBe(0);
    expect(resolveDatabaseUrl(undefined, { CONVERGE_DATABASE_URL: '' }, read)).toEqual({
      url: 'sqlite:/srv/app/data/app.db',
      from: '/srv/app/converge.config.json',
    });
    expect(reads).toBe(1);
  });

  it('names the file when it sets no database', () => {
    expect(() => resolveDatabaseUrl(undefined, {}, () => ({ path: config.path }))).toThrow(
      expect.objectContaining({ message: expect.stringContaining(`set "database" in ${config.path}`) }),
    );
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
