// biome-ignore-all lint/suspicious/noTemplateCurlyInString: ${NAME} is the manifest's own syntax for environment variables.
import { describe, expect, it } from 'vitest';
import { isConvergeError } from '../core/errors.js';
import { databaseReferenceProblem, expandDatabaseUrl, hasLiteralPassword } from './database-reference.js';

describe('expandDatabaseUrl', () => {
  it('replaces every ${NAME} with its value', () => {
    expect(
      expandDatabaseUrl('postgres://${DB_USER}:${DB_PASSWORD}@db:5432/billing', {
        DB_USER: 'billing',
        DB_PASSWORD: 'p@ss',
      }),
    ).toBe('postgres://billing:p@ss@db:5432/billing');
    expect(expandDatabaseUrl('${URL}', { URL: 'sqlite:billing.db' })).toBe('sqlite:billing.db');
    expect(expandDatabaseUrl('postgres://db/plain', {})).toBe('postgres://db/plain');
  });

  it('names the missing variable and the service, and masks a literal password', () => {
    try {
      expandDatabaseUrl('postgres://billing:Hunter2Secret@${DB_HOST}/billing', {}, { service: 'billing' });
      expect.unreachable();
    } catch (error) {
      expect(isConvergeError(error) && error.code).toBe('DATABASE_URL_VARIABLE_MISSING');
      const message = (error as Error).message;
      expect(message).toBe(
        "Service 'billing': database URL 'postgres://billing:***@${DB_HOST}/billing' needs the environment variable DB_HOST, which is not set; set DB_HOST before running the command.",
      );
    }
  });

  it('treats an empty variable as missing and never prints the values it has', () => {
    expect(() =>
      expandDatabaseUrl('postgres://u:${PW}@${HOST}/d', { PW: 'TopSecretValue', HOST: '' }),
    ).toThrow(/HOST, which is empty/);
    try {
      expandDatabaseUrl('postgres://u:${PW}@${HOST}/d', { PW: 'TopSecretValue' });
    } catch (error) {
      expect((error as Error).message).not.toContain('TopSecretValue');
    }
  });

  it('rejects a malformed reference', () => {
    expect(() => expandDatabaseUrl('postgres://${DB', {})).toThrow(
      expect.objectContaining({ code: 'DATABASE_REFERENCE_INVALID' }),
    );
  });
});

describe('databaseReferenceProblem', () => {
  it.each([['${A}'], ['postgres://${USER_1}:${_P}@h/d'], ['plain $ sign'], ['postgres://h/d']])(
    'accepts %s',
    (url) => {
      expect(databaseReferenceProblem(url)).toBeUndefined();
    },
  );
  it.each([['${A'], ['${1A}'], ['${A-B}'], ['${}'], ['ok ${A} then ${b c}']])('rejects %s', (url) => {
    expect(databaseReferenceProblem(url)).toMatch(/malformed reference/);
  });
});

describe('hasLiteralPassword', () => {
  it.each([
    ['postgres://u:secret@h/d', true],
    ['postgres://u:${PW}@h/d', false],
    ['postgres://u@h/d', false],
    ['postgres://h/d?password=secret', true],
    ['postgres://h/d?password=${PW}', false],
    ['${DATABASE_URL}', false],
    ['postgres://u:pre${PW}@h/d', true],
  ])('%s → %s', (url, expected) => {
    expect(hasLiteralPassword(url)).toBe(expected);
  });
});
