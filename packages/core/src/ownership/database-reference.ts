/**
 * Database URLs in `converge.yaml` name their secrets by environment variable, `${NAME}`, so that
 * the file can be committed: `postgres://billing:${BILLING_PASSWORD}@db:5432/billing`. This file
 * checks those references and expands them when a command needs the real URL.
 */
import { maskSecrets } from '../core/database-url.js';
import { ConvergeError } from '../core/errors.js';

const REFERENCE = /\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g;

/**
 * Replaces every `${NAME}` in `url` with the value of `NAME` in `env`. A variable that is not set,
 * or set to the empty string, is an error; the value is never printed (only the URL as written,
 * with any literal password masked).
 *
 * @param options.service Named in the message ("Service 'billing': …").
 * @throws ConvergeError `DATABASE_URL_VARIABLE_MISSING` naming the variable, or
 *   `DATABASE_REFERENCE_INVALID` for a malformed `${…}`.
 * @example expandDatabaseUrl('postgres://app:${PW}@db/app', { PW: 's3cret' }) // 'postgres://app:s3cret@db/app'
 */
export function expandDatabaseUrl(
  url: string,
  env: Readonly<Record<string, string | undefined>>,
  options: { readonly service?: string } = {},
): string {
  const subject =
    options.service === undefined ? 'Database URL' : `Service '${options.service}': database URL`;
  const malformed = databaseReferenceProblem(url);
  if (malformed !== undefined) {
    throw new ConvergeError('DATABASE_REFERENCE_INVALID', `${subject} ${malformed}`, {
      details: { url: maskSecrets(url) },
    });
  }
  return url.replace(REFERENCE, (_whole, name: string) => {
    const value = env[name];
    if (value === undefined || value === '') {
      throw new ConvergeError(
        'DATABASE_URL_VARIABLE_MISSING',
        `${subject} '${maskSecrets(url)}' needs the environment variable ${name}, which is ${value === undefined ? 'not set' : 'empty'}; set ${name} before running the command.`,
        { details: { variable: name, url: maskSecrets(url) } },
      );
    }
    return value;
  });
}

/**
 * Why the `${…}` references of `url` are malformed (a `${` without a closing `}` or with a name
 * that is not `[A-Za-z_][A-Za-z0-9_]*`), as the end of a sentence; `undefined` when they are fine.
 */
export function databaseReferenceProblem(url: string): string | undefined {
  const rest = url.replace(REFERENCE, '');
  const start = rest.indexOf('${');
  if (start === -1) return undefined;
  const fragment = rest.slice(start, start + 20);
  return `'${maskSecrets(url)}' has a malformed reference '${maskSecrets(fragment)}'; write \${NAME} with NAME made of letters, digits and _, not starting with a digit.`;
}

/**
 * Whether `url` carries a literal password (`user:secret@` or `?password=secret`) rather than a
 * `${NAME}` reference for it.
 */
export function hasLiteralPassword(url: string): boolean {
  const userInfo = /^[a-z][a-z0-9+.-]*:\/\/([^/?#@]*)@/i.exec(url)?.[1];
  const colon = userInfo?.indexOf(':') ?? -1;
  const password = userInfo !== undefined && colon !== -1 ? userInfo.slice(colon + 1) : '';
  const query = /[?&]password=([^&]*)/i.exec(url)?.[1] ?? '';
  return [password, query].some((value) => value.replace(REFERENCE, '').length > 0);
}
