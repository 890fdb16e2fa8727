import type { Storage } from '@converge/core';
import type { CliContext } from './cli-context.js';
import type { DatabaseCommandOptions } from './common-options.js';
import { loadConfigFile } from './config-file.js';
import { withStorage } from './open-storage.js';
import { type DatabaseChoice, passwordOf, resolveDatabaseUrl } from './resolve-database-url.js';

/**
 * The database a command uses (`--database` > `CONVERGE_DATABASE_URL` > configuration file), with
 * its password registered as a secret so that no output shows it. An explicit `--config` file is
 * always read (a wrong path is an error even beside `--database`); `./converge.config.json` only
 * when neither the flag nor the variable names a database.
 *
 * @throws ConvergeError `CONFIG_INVALID` (no database anywhere, or a broken configuration file).
 * @example const { url } = chooseDatabase(options, context);
 */
export function chooseDatabase(options: DatabaseCommandOptions, context: CliContext): DatabaseChoice {
  const explicit = options.config === undefined ? undefined : loadConfigFile(options.config, context.cwd);
  const choice = resolveDatabaseUrl(options.database, context.env, () =>
    explicit !== undefined ? explicit : loadConfigFile(undefined, context.cwd),
  );
  const password = passwordOf(choice.url);
  if (password !== undefined) context.output.addSecret(password);
  return choice;
}

/**
 * Opens the chosen database, checks that its Converge schema is current, runs `work` and closes
 * the database, also when `work` throws.
 *
 * @throws ConvergeError as `chooseDatabase` and `withStorage`, `SCHEMA_OUT_OF_DATE`, `SCHEMA_TOO_NEW`,
 *   and whatever `work` throws.
 */
export async function withDatabase(
  options: DatabaseCommandOptions,
  context: CliContext,
  work: (storage: Storage) => Promise<void>,
): Promise<void> {
  const { url } = chooseDatabase(options, context);
  await withStorage(url, async (storage) => {
    await storage.assertSchemaCurrent();
    await work(storage);
  });
}
