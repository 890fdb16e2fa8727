/**
 * `converge ownership infer`: who really reads and writes which table, from `pg_stat_statements`
 * (the default) or a PostgreSQL log (`--log FILE`), on the database `--database` names. Without
 * `-f` it prints a proposed `converge.yaml` (`--json`: the observations); with `-f converge.yaml`
 * the differences from the declared manifest, a service writing a table it does not own first.
 * Exits 3 when a service writes a table it may not write or reads one it may not read, 0
 * otherwise, 2 for a wrong command line, manifest or server setup (docs/ownership-inference.md).
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { ConvergeError, type Manifest, maskSecrets, parseDatabaseUrl } from '@converge/core';
import {
  compareWithManifest,
  type InferenceInput,
  type InferenceResult,
  inferOwnership,
  type OwnershipDifference,
  proposeManifest,
} from '@converge/core/inference';
import { type Command, Option } from 'commander';
import type { CliContext } from '../cli-context.js';
import {
  configOption,
  type DatabaseCommandOptions,
  databaseOption,
  examplesHelp,
  jsonOption,
} from '../common-options.js';
import { loadManifest } from '../manifest-file.js';
import { withStorage } from '../open-storage.js';
import { chooseDatabase } from '../use-database.js';
import { usageError } from './dlq-filter.js';

interface InferOptions extends DatabaseCommandOptions {
  readonly from?: 'pg_stat_statements' | 'log';
  readonly log?: string;
  readonly logPrefix?: string;
  readonly file?: string;
  readonly roleMap?: readonly string[];
  readonly ignoreRole?: readonly string[];
  readonly includeSuperusers?: boolean;
}

const collect = (value: string, previous: readonly string[] | undefined): string[] => [
  ...(previous ?? []),
  value,
];

/**
 * Adds `infer` to the `ownership` command group.
 *
 * @example addOwnershipInferCommand(program.command('ownership'), context);
 */
export function addOwnershipInferCommand(ownership: Command, context: CliContext): Command {
  return ownership
    .command('infer')
    .description(
      'attribute table reads and writes to services from pg_stat_statements or a PostgreSQL log; print a proposed manifest, or with -f the differences from it (exit 3 when a service writes or reads a table the manifest does not let it)',
    )
    .addOption(databaseOption())
    .addOption(configOption())
    .addOption(
      new Option('--from <source>', 'where the statements come from').choices(['pg_stat_statements', 'log']),
    )
    .option('--log <file>', 'read statements from this PostgreSQL log file (log_statement = all or mod)')
    .option(
      '--log-prefix <prefix>',
      "the log_line_prefix the log was written with (default: the server's); it must contain %u",
    )
    .option('-f, --file <manifest>', 'compare with this manifest (converge.yaml)')
    .option('--role-map <role=service>', 'the service a role stands for (repeatable)', collect)
    .option('--ignore-role <role>', "leave this role's statements out (repeatable)", collect)
    .option('--include-superusers', "keep superusers' statements (left out by default: setup and migrations)")
    .addOption(jsonOption())
    .addHelpText(
      'after',
      [
        '',
        'A role stands for the service of its name, without a _runtime or _owner suffix',
        '(billing_payment_runtime → billing_payment), unless --role-map says otherwise.',
        'Unqualified table names are resolved with each role’s search_path, as PostgreSQL would.',
        '',
        'With -f, differences most important first: UNDECLARED_WRITER and UNDECLARED_READER',
        '(exit 3), then OWNER_NEVER_WRITES and UNDECLARED_TABLE (information).',
        examplesHelp([
          'converge ownership infer --database postgres://monitor@db:5432/app > converge.yaml',
          'converge ownership infer --database postgres://monitor@db:5432/app -f converge.yaml',
          'converge ownership infer --database postgres://monitor@db:5432/app --log /var/log/postgresql/postgresql-15-main.log --role-map reports=billing_payment --json',
        ]),
      ].join('\n'),
    )
    .action(async (options: InferOptions) => {
      const input = inputOf(options, context);
      const manifest = options.file === undefined ? undefined : loadManifest(options.file, context);
      const roleMap = parseRoleMap(options.roleMap ?? []);
      const { url } = chooseDatabase(options, context);
      if (parseDatabaseUrl(url).kind !== 'postgres') {
        throw new ConvergeError(
          'INFERENCE_NEEDS_POSTGRES',
          `Ownership inference reads PostgreSQL's statistics and catalog; '${maskSecrets(url)}' is not a PostgreSQL database. SQLite has no roles to attribute statements to.`,
        );
      }
      const database = maskSecrets(url.trim());
      const result = await withStorage(url, (storage) =>
        storage.transaction((tx) =>
          inferOwnership({
            query: (sql, params) => tx.query(sql, params),
            database,
            input,
            roleMap,
            ignoreRoles: options.ignoreRole ?? [],
            includeSuperusers: options.includeSuperusers === true,
            ...(manifest === undefined ? {} : { services: manifest.services.map((service) => service.name) }),
          }),
        ),
      );
      for (const warning of result.warnings) context.output.log(`converge: ${warning}`);
      if (manifest === undefined) printObservations(result, options, context);
      else printDifferences(result, manifest, options, context);
    });
}

function inputOf(options: InferOptions, context: CliContext): InferenceInput {
  const from = options.from ?? (options.log === undefined ? 'pg_stat_statements' : 'log');
  if (from === 'pg_stat_statements') {
    if (options.log !== undefined)
      throw usageError('--log reads a log file; it cannot be used with --from pg_stat_statements.');
    return { from };
  }
  if (options.log === undefined) throw usageError('--from log needs the log file: --log FILE.');
  let text: string;
  try {
    text = readFileSync(resolve(context.cwd, options.log), 'utf8');
  } catch (cause) {
    throw new ConvergeError(
      'LOG_UNREADABLE',
      `The log file '${options.log}' cannot be read (${(cause as NodeJS.ErrnoException).code ?? 'error'}); give a PostgreSQL log file readable by this user.`,
      { cause },
    );
  }
  return { from, text, ...(options.logPrefix === undefined ? {} : { prefix: options.logPrefix }) };
}

function parseRoleMap(entries: readonly string[]): Map<string, string> {
  const map = new Map<string, string>();
  for (const entry of entries) {
    const match = /^([^=\s]+)=([^=\s]+)$/.exec(entry);
    if (match === null)
      throw usageError(
        `--role-map '${entry}' is not role=service; write e.g. --role-map reports=billing_payment.`,
      );
    map.set(match[1] as string, match[2] as string);
  }
  return map;
}

function printObservations(result: InferenceResult, options: InferOptions, context: CliContext): void {
  if (options.json === true) {
    context.output.json({ warnings: result.warnings, ...result.observations });
    return;
  }
  context.output.write('out', proposeManifest(result.observations));
}

function printDifferences(
  result: InferenceResult,
  manifest: Manifest,
  options: InferOptions,
  context: CliContext,
): void {
  const differences = compareWithManifest(result.observations, manifest);
  const problems = differences.filter((difference) => difference.severity === 'problem').length;
  if (options.json === true) {
    context.output.json({
      manifest: options.file,
      problems,
      differences,
      warnings: result.warnings,
      observations: result.observations,
    });
  } else {
    context.output.result(formatDifferences(differences, result, problems));
  }
  context.settle(problems === 0 ? 'ok' : 'problems');
}

function formatDifferences(
  differences: readonly OwnershipDifference[],
  result: InferenceResult,
  problems: number,
): string {
  const { observations } = result;
  const lines = [
    `Traffic: ${observations.statements.parsed} statement(s) from ${observations.source} on ${observations.database}` +
      (observations.statements.unparsable > 0
        ? ` (${observations.statements.unparsable} could not be parsed)`
        : ''),
  ];
  for (const difference of differences) {
    lines.push(
      '',
      `${difference.severity === 'problem' ? 'PROBLEM' : 'info'}  ${difference.kind}  ${difference.table}${difference.service === undefined ? '' : `  ${difference.service}`}`,
      `  ${difference.message}`,
      `  Remedy: ${difference.remedy}`,
    );
    if (difference.example !== undefined) lines.push(`  Example: ${difference.example}`);
  }
  const info = differences.length - problems;
  lines.push(
    '',
    problems === 0 && info === 0
      ? 'The traffic matches the manifest.'
      : `${problems} problem(s), ${info} for information.`,
  );
  return lines.join('\n');
}
