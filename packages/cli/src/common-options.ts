import { type Command, Option } from 'commander';
import { CONFIG_FILE_NAME } from './config-file.js';
import { DATABASE_URL_ENV } from './resolve-database-url.js';

/** The options every command that talks to a database shares. */
export interface DatabaseCommandOptions {
  readonly database?: string;
  readonly config?: string;
  readonly json?: boolean;
}

/** `--database <url>`, resolved by `resolveDatabaseUrl` (flag, `CONVERGE_DATABASE_URL`, config file). */
export function databaseOption(): Option {
  return new Option(
    '--database <url>',
    `database URL: postgres://user:password@host:5432/db or sqlite:path/to/file.db (default: $${DATABASE_URL_ENV}, then the config file)`,
  );
}

/** `--config <file>`: the configuration file to read instead of `./converge.config.json`. */
export function configOption(): Option {
  return new Option(
    '--config <file>',
    `configuration file with {"database": "<url>"} (default: ./${CONFIG_FILE_NAME} when it exists)`,
  );
}

/** `--json`: only JSON on stdout, everything else on stderr. */
export function jsonOption(): Option {
  return new Option('--json', 'print the result as JSON on stdout (logs go to stderr)');
}

/** Adds `--database`, `--config` and `--json` to `command`, the options of every database command. */
export function addDatabaseOptions(command: Command): Command {
  return command.addOption(databaseOption()).addOption(configOption()).addOption(jsonOption());
}

/** An "Examples:" block for the end of a command's help, one command line per entry. */
export function examplesHelp(lines: readonly string[]): string {
  return ['', 'Examples:', ...lines.map((line) => `  ${line}`)].join('\n');
}
