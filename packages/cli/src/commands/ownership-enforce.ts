/**
 * `converge ownership plan|apply|verify`: the manifest enforced by PostgreSQL itself — per service
 * a NOLOGIN owner role and a LOGIN runtime role, grants, default privileges and a pinned
 * `search_path`, and Converge's own schema usable by the runtime roles (docs/ownership-enforcement.md).
 *
 * - `plan` prints the SQL: without `--database` the whole script for a fresh database, with one
 *   the statements that database lacks. Exit 0.
 * - `apply` plans against the database and runs the plan in one transaction. It shows the plan
 *   and asks on a terminal; elsewhere it needs `--yes` (exit 2 without it). What was shown is what
 *   runs: if the database changed meanwhile, nothing runs (exit 5). A second run changes nothing.
 * - `verify` lists every difference between the database and the manifest: exit 3 when there is
 *   one, 0 when there is none.
 *
 * SQLite has no roles: every command refuses a SQLite database (exit 2) and names what to use.
 */
import {
  applyEnforcement,
  ConvergeError,
  type EnforcementClient,
  type EnforcementPlan,
  type EnforcementScope,
  enforcementTarget,
  FRESH_DATABASE_CATALOG,
  type Manifest,
  planEnforcement,
  readEnforcementCatalog,
  verifyEnforcement,
} from '@converge/core';
import type { Command } from 'commander';
import type { CliContext } from '../cli-context.js';
import { addDatabaseOptions, type DatabaseCommandOptions, examplesHelp } from '../common-options.js';
import { loadManifest } from '../manifest-file.js';
import { DEFAULT_MANIFEST_FILE } from './ownership-check.js';
import {
  type EnforcementDatabase,
  enforcementDatabase,
  withEnforcementClient,
} from './ownership-enforce-database.js';
import { differencesText, oneLine, planScript } from './ownership-enforce-format.js';

interface EnforceOptions extends DatabaseCommandOptions {
  readonly file: string;
  readonly service?: string;
  readonly convergeOwner?: string;
  readonly dryRun?: boolean;
  readonly yes?: boolean;
}

const DATABASE_HELP = [
  '',
  'The database: --database; else, with --service, that service’s database in the manifest',
  `(\${NAME} references read from the environment); else $CONVERGE_DATABASE_URL or the config file.`,
  'Connect as a superuser, or as a role with CREATEROLE that is a member of the owner roles.',
  'SQLite has no roles: a SQLite database is refused (exit 2); see createOwnershipGuard.',
].join('\n');

/**
 * Adds `plan`, `apply` and `verify` to the `ownership` command group.
 *
 * @example addOwnershipEnforceCommands(program.command('ownership'), context);
 */
export function addOwnershipEnforceCommands(ownership: Command, context: CliContext): void {
  addPlanCommand(ownership, context);
  addApplyCommand(ownership, context);
  addVerifyCommand(ownership, context);
}

/** A subcommand with the options plan, apply and verify share. */
function enforcementCommand(ownership: Command, name: string, description: string): Command {
  const command = ownership
    .command(name)
    .description(description)
    .option('-f, --file <manifest>', 'the manifest to enforce', DEFAULT_MANIFEST_FILE)
    .option(
      '--service <name>',
      'only what this service owns, in its own database (Converge’s schema for the services sharing it)',
    )
    .option(
      '--converge-owner <role>',
      'the role that owns Converge’s schema `converge` (default converge_owner)',
    );
  return addDatabaseOptions(command);
}

function addPlanCommand(ownership: Command, context: CliContext): void {
  enforcementCommand(
    ownership,
    'plan',
    'print the SQL that enforces the manifest: for a fresh database, or (with --database) what that database lacks',
  )
    .addHelpText(
      'after',
      [
        '',
        'Without --database: the whole script for a fresh database (roles, schemas, grants, default',
        'privileges, search_paths); `psql -v ON_ERROR_STOP=1 -f plan.sql` runs it. With --database: only',
        'what that database lacks, which `converge ownership apply` would run. Exit 0.',
        examplesHelp([
          'converge ownership plan -f converge.yaml > enforce.sql',
          'converge ownership plan --service billing --database postgres://admin@db:5432/billing',
        ]),
      ].join('\n'),
    )
    .action(async (options: EnforceOptions) => {
      const manifest = loadManifest(options.file, context);
      const scope = scopeOf(options);
      enforcementTarget(manifest, scope);
      if (options.database === undefined) {
        const plan = planEnforcement(manifest, { ...scope, catalog: FRESH_DATABASE_CATALOG });
        printPlan(plan, null, `${subjectOf(options)}, for a fresh database`, options, context);
        return;
      }
      const database = enforcementDatabase(options, manifest, context);
      const plan = await withEnforcementClient(database, (client) => livePlan(client, manifest, scope));
      printPlan(plan, database, `${subjectOf(options)} against ${database.shown}`, options, context);
    });
}

function addApplyCommand(ownership: Command, context: CliContext): void {
  enforcementCommand(ownership, 'apply', 'make the database enforce the manifest, in one transaction')
    .option('--dry-run', 'print what would run and change nothing')
    .option('--yes', 'apply without asking (required when stdin or stdout is not a terminal)')
    .addHelpText(
      'after',
      [
        DATABASE_HELP,
        '',
        'Exit 0 when applied or nothing to change, 2 without --yes off a terminal (nothing changed),',
        '5 when the database changed between the plan shown and the apply (nothing changed).',
        examplesHelp([
          'converge ownership apply --database postgres://admin@db:5432/app --dry-run',
          'converge ownership apply --service billing --yes',
        ]),
      ].join('\n'),
    )
    .action(async (options: EnforceOptions) => {
      const manifest = loadManifest(options.file, context);
      const scope = scopeOf(options);
      enforcementTarget(manifest, scope);
      const database = enforcementDatabase(options, manifest, context);
      await withEnforcementClient(database, async (client) => {
        const reviewed = await livePlan(client, manifest, scope);
        const count = reviewed.statements.length;
        if (count === 0 || options.dryRun === true) {
          reportApply(reviewed, database, false, options, context);
          return;
        }
        await confirmApply(reviewed, database, options, context);
        const report = await applyEnforcement(client, manifest, {
          ...scope,
          expected: reviewed.statements.map((statement) => statement.sql),
        });
        reportApply(report, database, report.applied, options, context);
      });
    });
}

function addVerifyCommand(ownership: Command, context: CliContext): void {
  enforcementCommand(
    ownership,
    'verify',
    'compare the live roles, grants and ownership with the manifest (exit 3 on any difference)',
  )
    .addHelpText(
      'after',
      [
        DATABASE_HELP,
        '',
        'Each difference: kind, object, role, what is wrong, and the SQL that fixes it.',
        'Exit 0 when the database enforces the manifest, 3 when it differs, 2 for a wrong command line.',
        examplesHelp([
          'converge ownership verify --database postgres://admin@db:5432/app',
          'converge ownership verify --service billing --json',
        ]),
      ].join('\n'),
    )
    .action(async (options: EnforceOptions) => {
      const manifest = loadManifest(options.file, context);
      const scope = scopeOf(options);
      const target = enforcementTarget(manifest, scope);
      const database = enforcementDatabase(options, manifest, context);
      const differences = await withEnforcementClient(database, async (client) =>
        verifyEnforcement(manifest, await readEnforcementCatalog(client, target), scope),
      );
      if (options.json === true) {
        context.output.json({
          file: options.file,
          service: options.service ?? null,
          database: database.shown,
          enforced: differences.length === 0,
          differences,
        });
      } else if (differences.length === 0) {
        context.output.result(`${database.shown} enforces ${subjectOf(options)}.`);
      } else {
        context.output.result(
          `${differencesText(differences)}\n\n${differences.length} difference(s) between ${database.shown} and ${subjectOf(options)}; 'converge ownership apply' removes those with a fix.`,
        );
      }
      context.settle(differences.length === 0 ? 'ok' : 'problems');
    });
}

async function livePlan(
  client: EnforcementClient,
  manifest: Manifest,
  scope: EnforcementScope,
): Promise<EnforcementPlan> {
  const catalog = await readEnforcementCatalog(client, enforcementTarget(manifest, scope));
  return planEnforcement(manifest, { ...scope, catalog });
}

/** Shows the plan and asks on a terminal; refuses without `--yes` anywhere else. */
async function confirmApply(
  plan: EnforcementPlan,
  database: EnforcementDatabase,
  options: EnforceOptions,
  context: CliContext,
): Promise<void> {
  if (options.yes === true) return;
  const count = plan.statements.length;
  if (!context.terminal.interactive) {
    throw new ConvergeError(
      'CONFIRMATION_REQUIRED',
      `Refusing to apply ${count} statement(s) to ${database.shown} without confirmation: stdin or stdout is not a terminal. Pass --yes to apply them, or --dry-run to see them first; nothing was changed.`,
      { details: { count } },
    );
  }
  context.output.result(planScript(plan, `${subjectOf(options)} against ${database.shown}`));
  if (!(await context.terminal.confirm(`Apply these ${count} statement(s) to ${database.shown}?`))) {
    throw new ConvergeError('NOT_CONFIRMED', 'Nothing was changed: the apply was not confirmed.', {
      details: { count },
    });
  }
}

function reportApply(
  plan: EnforcementPlan,
  database: EnforcementDatabase,
  applied: boolean,
  options: EnforceOptions,
  context: CliContext,
): void {
  const count = plan.statements.length;
  const dryRun = options.dryRun === true;
  if (options.json === true) {
    context.output.json({ ...planJson(plan, database, options), dryRun, applied });
    return;
  }
  const subject = `${subjectOf(options)} against ${database.shown}`;
  // On a terminal the plan was just shown before the question; print it once.
  const shown = applied && options.yes !== true;
  if (count > 0 && !shown) context.output.result(planScript(plan, subject));
  if (count === 0) {
    context.output.result(
      `Nothing to change: ${database.shown} already enforces ${subjectOf(options)} (0 statements).`,
    );
  } else if (dryRun) {
    context.output.result(
      `Dry run: ${count} statement(s) would run on ${database.shown}; nothing was changed.`,
    );
  } else {
    context.output.result(`Applied ${count} statement(s) to ${database.shown} in one transaction.`);
  }
  const unfixable = plan.differences.filter((difference) => difference.fix.length === 0);
  for (const difference of unfixable)
    context.output.log(`converge: not removed: ${oneLine(difference.message)}`);
}

function printPlan(
  plan: EnforcementPlan,
  database: EnforcementDatabase | null,
  subject: string,
  options: EnforceOptions,
  context: CliContext,
): void {
  if (options.json === true) context.output.json(planJson(plan, database, options));
  else context.output.result(planScript(plan, subject));
}

function planJson(plan: EnforcementPlan, database: EnforcementDatabase | null, options: EnforceOptions) {
  return {
    file: options.file,
    service: options.service ?? null,
    database: database?.shown ?? null,
    statements: plan.statements,
    differences: plan.differences,
  };
}

function scopeOf(options: EnforceOptions): EnforcementScope {
  return {
    ...(options.service === undefined ? {} : { service: options.service }),
    ...(options.convergeOwner === undefined ? {} : { convergeOwner: options.convergeOwner }),
  };
}

function subjectOf(options: EnforceOptions): string {
  return options.service === undefined ? options.file : `${options.file} (service ${options.service})`;
}
