import { ConvergeError, type MigrationReport, maskSecrets } from '@converge/core';
import type { Command } from 'commander';
import type { CliContext } from '../cli-context.js';
import {
  configOption,
  type DatabaseCommandOptions,
  databaseOption,
  examplesHelp,
  jsonOption,
} from '../common-options.js';
import { withStorage } from '../open-storage.js';
import { chooseDatabase } from '../use-database.js';

/** The options of `converge migrate`. */
export interface MigrateOptions extends DatabaseCommandOptions {
  readonly dryRun?: boolean;
}

/** Adds `converge migrate` to `program`. */
export function addMigrateCommand(program: Command, context: CliContext): Command {
  return program
    .command('migrate')
    .description("bring Converge's own tables in the database to the latest schema version")
    .addOption(databaseOption())
    .addOption(configOption())
    .option('--dry-run', 'print the SQL of the pending steps and apply nothing')
    .addOption(jsonOption())
    .addHelpText(
      'after',
      examplesHelp([
        'converge migrate --database postgres://app:secret@db:5432/orders',
        'converge migrate --database sqlite:data/orders.db --dry-run > pending.sql',
        'CONVERGE_DATABASE_URL=sqlite:data/orders.db converge migrate --json',
        'echo \'{"database": "sqlite:data/orders.db"}\' > converge.config.json && converge migrate',
      ]),
    )
    .action(async (options: MigrateOptions) => {
      await migrate(options, context);
    });
}

/**
 * Applies Converge's pending migrations (or, with `dryRun`, prints their SQL and applies nothing)
 * and prints what happened: a sentence, a SQL script for a dry run, or with `json` the
 * `MigrationReport` plus the masked database on stdout.
 *
 * @throws ConvergeError `CONFIG_INVALID` (no database given), `DATABASE_URL_INVALID`,
 *   `SQLITE_OPEN_FAILED`, `SCHEMA_TOO_NEW` (a newer Converge migrated the database),
 *   `DATABASE_CONNECTION_FAILED`, `MIGRATION_FAILED`, `DATABASE_FAILED`.
 */
export async function migrate(options: MigrateOptions, context: CliContext): Promise<void> {
  const { output } = context;
  const { url } = chooseDatabase(options, context);
  const database = maskSecrets(url.trim());
  const dryRun = options.dryRun === true;

  const report = await withStorage(url, (storage) => storage.migrate({ dryRun }));
  if (report.fromVersion > report.latestVersion) throw schemaTooNew(database, report);

  const summary = summarize(database, report);
  if (options.json === true) {
    output.json({ database, ...report });
    output.log(summary);
  } else if (dryRun) {
    output.result(dryRunScript(summary, report));
  } else {
    output.result(summary);
  }
  context.settle('ok');
}

/** One sentence saying where the schema was, where it is now, and which steps ran (or would). */
export function summarize(database: string, report: MigrationReport): string {
  const { fromVersion, toVersion, latestVersion, steps, dryRun } = report;
  if (steps.length === 0) {
    return `Database ${database}: already at version ${fromVersion}, nothing to do${dryRun ? ' (dry run)' : ''}.`;
  }
  const list = `${steps.length} step${steps.length === 1 ? '' : 's'}: ${steps
    .map((step) => `${step.version} '${step.name}'`)
    .join(', ')}`;
  if (dryRun) {
    return `Database ${database}: at version ${fromVersion}; migrating would bring it to version ${latestVersion} (${list}). Dry run: nothing was applied.`;
  }
  return `Database ${database}: migrated from version ${fromVersion} to ${toVersion} (${list}).`;
}

/** The pending steps as a SQL script, headed by the summary as a comment. */
function dryRunScript(summary: string, report: MigrationReport): string {
  const parts = [`-- ${summary}`];
  for (const step of report.steps) {
    parts.push('', `-- Step ${step.version}: ${step.name}`, step.sql.trim());
  }
  return parts.join('\n');
}

function schemaTooNew(database: string, report: MigrationReport): ConvergeError {
  return new ConvergeError(
    'SCHEMA_TOO_NEW',
    `Database ${database} has Converge schema version ${report.fromVersion}, newer than version ${report.latestVersion} known to this converge command; nothing was changed. Upgrade @converge/cli to the version the services using this database run.`,
    { details: { found: report.fromVersion, latest: report.latestVersion } },
  );
}
