import { ConvergeError } from '@converge/core';
import { CONFIG_FILE_NAME, type ConfigFile } from './config-file.js';

/** The environment variable that names the database when `--database` is not given. */
export const DATABASE_URL_ENV = 'CONVERGE_DATABASE_URL';

/** The database a command should use, and where that choice came from. */
export interface DatabaseChoice {
  readonly url: string;
  /** `--database`, `CONVERGE_DATABASE_URL`, or the path of the configuration file. */
  readonly from: string;
}

/**
 * Picks the database: the `--database` flag, else `CONVERGE_DATABASE_URL` (an empty variable
 * counts as unset), else the `database` of the configuration file `readConfig` returns (called
 * only then, so a flag or the variable works even beside a broken file). There is no default
 * database: a command never guesses which one to change.
 *
 * @throws ConvergeError `CONFIG_INVALID` naming the three ways to give a database.
 * @example resolveDatabaseUrl(undefined, { CONVERGE_DATABASE_URL: 'sqlite:app.db' }) // { url: 'sqlite:app.db', from: 'CONVERGE_DATABASE_URL' }
 */
export function resolveDatabaseUrl(
  flag: string | undefined,
  env: Readonly<Record<string, string | undefined>>,
  readConfig: () => ConfigFile | null = () => null,
): DatabaseChoice {
  if (flag !== undefined) return { url: flag, from: '--database' };
  const fromEnv = env[DATABASE_URL_ENV];
  if (fromEnv !== undefined && fromEnv.trim().length > 0) return { url: fromEnv, from: DATABASE_URL_ENV };
  const config = readConfig();
  if (config?.database !== undefined) return { url: config.database, from: config.path };
  throw new ConvergeError(
    'CONFIG_INVALID',
    `No database given: pass --database <url> or set ${DATABASE_URL_ENV}${config === null ? ` (or write {"database": "<url>"} in ./${CONFIG_FILE_NAME})` : ` (or set "database" in ${config.path})`}, for example 'postgres://user:password@host:5432/db' or 'sqlite:path/to/file.db'.`,
    { details: { missing: 'database' } },
  );
}

/**
 * The password in a database URL (as written, possibly percent-encoded), to be masked wherever
 * it might be echoed; undefined when there is none or the text is not a URL.
 */
export function passwordOf(url: string): string | undefined {
  try {
    const password = new URL(url.trim()).password;
    return password.length > 0 ? password : undefined;
  } catch {
    return undefined;
  }
}
