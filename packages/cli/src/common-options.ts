import { Option } from 'commander';
import { DATABASE_URL_ENV } from './resolve-database-url.js';

/** The options every command that talks to a database shares. */
export interface DatabaseCommandOptions {
  readonly database?: string;
  readonly json?: boolean;
}

/** `--database <url>`, resolved by `resolveDatabaseUrl` (flag, then `CONVERGE_DATABASE_URL`). */
export function databaseOption(): Option {
  return new Option(
    '--database <url>',
    `database URL: postgres://user:password@host:5432/db or sqlite:path/to/file.db (default: $${DATABASE_URL_ENV})`,
  );
}

/** `--json`: only JSON on stdout, everything else on stderr. */
export function jsonOption(): Option {
  return new Option('--json', 'print the result as JSON on stdout (logs go to stderr)');
}
