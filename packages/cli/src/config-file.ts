/**
 * `converge.config.json`: settings a project keeps beside its code so that nobody has to repeat
 * `--database` (see docs/adr/0012-cli-config-file.md). Only `database` for now:
 *
 * ```json
 * { "database": "sqlite:data/billing.db" }
 * ```
 *
 * A relative SQLite path is relative to the file's own folder, so the file means the same database
 * whichever folder the command runs in.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { ConvergeError } from '@converge/core';

/** The file `converge` reads from the current directory when `--config` is not given. */
export const CONFIG_FILE_NAME = 'converge.config.json';

/** What a configuration file says, and where it is. */
export interface ConfigFile {
  /** The absolute path of the file. */
  readonly path: string;
  /** The database URL, with a relative SQLite path made absolute; undefined when not set. */
  readonly database?: string;
}

const KEYS: ReadonlySet<string> = new Set(['$schema', 'database']);

/**
 * Reads `explicit` (the `--config` file, relative to `cwd`), which must exist, or else
 * `converge.config.json` in `cwd` when there is one. Returns null when there is none.
 *
 * @throws ConvergeError `CONFIG_INVALID` naming the file and the problem: missing (`--config`),
 *   unreadable, not JSON, not an object, an unknown key, or a `database` that is not a string.
 * @example loadConfigFile(undefined, process.cwd())?.database // 'sqlite:/srv/app/data/billing.db'
 */
export function loadConfigFile(explicit: string | undefined, cwd: string): ConfigFile | null {
  const path = resolve(cwd, explicit ?? CONFIG_FILE_NAME);
  if (explicit === undefined && !existsSync(path)) return null;
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    const why = (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'it does not exist' : String(error);
    throw invalid(path, `cannot be read: ${why}`, 'check the --config path');
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw invalid(path, `is not JSON (${(error as Error).message})`, 'fix its syntax');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw invalid(path, 'is not a JSON object', `write an object, e.g. {"database": "sqlite:data/app.db"}`);
  }
  const record = value as Record<string, unknown>;
  for (const key of Object.keys(record)) {
    if (!KEYS.has(key)) {
      throw invalid(path, `has an unknown setting '${key}'`, `the settings are: ${[...KEYS].join(', ')}`);
    }
  }
  const { database } = record;
  if (database === undefined) return { path };
  if (typeof database !== 'string' || database.trim().length === 0) {
    throw invalid(
      path,
      "has a 'database' that is not a non-empty string",
      "use a URL such as 'postgres://user@host:5432/db' or 'sqlite:data/app.db'",
    );
  }
  return { path, database: anchorSqlitePath(database.trim(), dirname(path)) };
}

/** `sqlite:relative/file.db` becomes `sqlite:<folder>/relative/file.db`; anything else is kept. */
function anchorSqlitePath(url: string, folder: string): string {
  const match = /^sqlite:(.*)$/i.exec(url);
  const file = match?.[1];
  if (file === undefined || file.length === 0 || file === ':memory:' || file.startsWith('//')) return url;
  return isAbsolute(file) ? url : `sqlite:${resolve(folder, file)}`;
}

function invalid(path: string, problem: string, remedy: string): ConvergeError {
  return new ConvergeError('CONFIG_INVALID', `Configuration file ${path} ${problem}; ${remedy}.`, {
    details: { file: path },
  });
}
