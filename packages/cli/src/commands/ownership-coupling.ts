/**
 * `converge ownership coupling -f converge.yaml [--database URL] [--since 7d] [--format
 * text|json|markdown] [-o FILE]`: ranks every pair of the manifest's services by how
 * transactionally coupled they are, from what Converge recorded in each service's database and
 * what the manifest declares, and recommends keep-split, delegate, data-domain or consolidation
 * with the reasons (docs/ownership-coupling.md, ADR 0019). `--format markdown` is an architecture
 * decision record draft. A service database that cannot be read is a warning, and the pairs it
 * belongs to say their evidence is partial; only when no database can be read does the command
 * fail (exit 1).
 */
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import {
  adviseCoupling,
  ConvergeError,
  couplingMarkdown,
  couplingText,
  type PairAdvice,
  pairEvidence,
  parseDatabaseUrl,
} from '@converge/core';
import { type Command, Option } from 'commander';
import type { CliContext } from '../cli-context.js';
import { examplesHelp, jsonOption } from '../common-options.js';
import { loadManifest } from '../manifest-file.js';
import { passwordOf } from '../resolve-database-url.js';
import {
  type CouplingEvidenceReading,
  readCouplingEvidence,
  type ServiceReading,
} from './coupling-evidence-reader.js';
import { parseDuration, usageError } from './dlq-filter.js';
import { DEFAULT_MANIFEST_FILE } from './ownership-check.js';

type CouplingFormat = 'text' | 'json' | 'markdown';

interface CouplingOptions {
  readonly file: string;
  readonly database?: string;
  readonly since: string;
  readonly format?: CouplingFormat;
  readonly json?: boolean;
  readonly output?: string;
  readonly limit: string;
}

/** Newest records read per list (produced, receipts, failures, sagas) and database, by default. */
const DEFAULT_LIMIT = 100_000;

/** A pair with its advice, and the services of it whose database could not be read. */
export interface CoupledPair extends PairAdvice {
  readonly missingEvidence: readonly string[];
}

/**
 * Adds `coupling` to the `ownership` command group.
 *
 * @example addOwnershipCouplingCommand(program.command('ownership'), context);
 */
export function addOwnershipCouplingCommand(ownership: Command, context: CliContext): Command {
  return ownership
    .command('coupling')
    .description(
      'rank service pairs by how transactionally coupled they are (messages applied, chains, failures, sagas spanning both and their compensations, consistency window, shared data) and recommend keep-split, delegate, data-domain or consolidation; --format markdown writes an ADR draft',
    )
    .option(
      '-f, --file <manifest>',
      'the manifest naming the services and their databases',
      DEFAULT_MANIFEST_FILE,
    )
    .option(
      '--database <url>',
      "one database every service shares (default: each service's own, from the manifest)",
    )
    .option('--since <duration>', 'the period the evidence covers, e.g. 30m, 12h, 7d', '7d')
    .addOption(
      new Option('--format <format>', 'the report: text (default), json or markdown (an ADR draft)').choices([
        'text',
        'json',
        'markdown',
      ]),
    )
    .addOption(jsonOption())
    .option('-o, --output <file>', 'write the report to this file instead of stdout')
    .option('--limit <n>', 'newest records read per list and database', String(DEFAULT_LIMIT))
    .addHelpText(
      'after',
      [
        '',
        "Without --database each service's evidence is read from its own database, the manifest's",
        '`database` with its variables taken from the environment; --database URL reads every service from',
        'that one database (services that share it), telling them apart by message source and consumer.',
        'A database that cannot be read is a warning; the pairs with its service say so. Exit 0 with',
        'a report, 1 when no database could be read, 2 for a wrong command line or manifest.',
        examplesHelp([
          'converge ownership coupling -f converge.yaml --since 7d',
          'converge ownership coupling --format markdown -o docs/adr/0042-service-boundaries.md',
          'converge ownership coupling --database postgres://monitor@db:5432/app --format json',
        ]),
      ].join('\n'),
    )
    .action(async (options: CouplingOptions) => {
      const format = formatOf(options);
      const sinceMs = parseDuration(options.since);
      const limit = positiveWhole(options.limit, '--limit');
      // A wrong --database is a wrong command line, not a database to warn about.
      if (options.database !== undefined) parseDatabaseUrl(options.database);
      const manifest = loadManifest(options.file, context);
      const generatedAt = new Date();
      const reading = await readCouplingEvidence(manifest, {
        env: context.env,
        ...(options.database === undefined ? {} : { database: options.database }),
        since: new Date(generatedAt.getTime() - sinceMs),
        limit,
        onUrl: (url) => {
          const password = passwordOf(url);
          if (password !== undefined) context.output.addSecret(password);
        },
      });
      for (const warning of reading.warnings) context.output.log(`converge: ${warning}`);
      assertSomeEvidence(reading.services);
      const pairs = withMissingEvidence(
        adviseCoupling(pairEvidence(manifest, reading.evidence)),
        reading.services,
      );
      const since = new Date(generatedAt.getTime() - sinceMs);
      const report = render(format, pairs, { options, since, generatedAt, reading });
      emit(report, options.output, context);
    });
}

/** The report in `format`; JSON carries everything, the others what a person reads. */
function render(
  format: CouplingFormat,
  pairs: readonly CoupledPair[],
  run: {
    readonly options: CouplingOptions;
    readonly since: Date;
    readonly generatedAt: Date;
    readonly reading: CouplingEvidenceReading;
  },
): string {
  const { options, since, generatedAt, reading } = run;
  switch (format) {
    case 'json': {
      const report = {
        manifest: options.file,
        since: options.since,
        sinceTime: since.toISOString(),
        generatedAt: generatedAt.toISOString(),
        services: reading.services,
        warnings: reading.warnings,
        pairs,
      };
      return `${JSON.stringify(report, null, 2)}\n`;
    }
    case 'markdown':
      return couplingMarkdown(pairs, { since: options.since, generatedAt, manifestFile: options.file });
    case 'text':
      return `${couplingText(pairs)}\n`;
  }
}

function formatOf(options: CouplingOptions): CouplingFormat {
  if (options.json === true && options.format !== undefined && options.format !== 'json') {
    throw usageError(`--json and --format ${options.format} ask for two reports; give one of them.`);
  }
  return options.json === true ? 'json' : (options.format ?? 'text');
}

function positiveWhole(text: string, option: string): number {
  if (!/^[1-9]\d{0,8}$/.test(text.trim())) {
    throw usageError(`${option} '${text}' is not a positive whole number; e.g. ${option} ${DEFAULT_LIMIT}.`);
  }
  return Number(text);
}

/** Advice from no evidence at all would look like "keep everything split": refuse it. */
function assertSomeEvidence(services: readonly ServiceReading[]): void {
  if (services.length === 0 || services.some((service) => service.problem === undefined)) return;
  throw new ConvergeError(
    'COUPLING_EVIDENCE_UNAVAILABLE',
    `No service database could be read, so there is no evidence to rank the pairs by (see the warnings above); make the databases reachable, set the variables their URLs name, or give the shared database with --database.`,
    { details: { services: services.length } },
  );
}

/** Says, first among a pair's reasons, which of its services' evidence is missing. */
function withMissingEvidence(
  advice: readonly PairAdvice[],
  services: readonly ServiceReading[],
): CoupledPair[] {
  const missing = new Set(services.filter((service) => service.problem !== undefined).map((s) => s.service));
  return advice.map((pair) => {
    const missingEvidence = pair.services.filter((service) => missing.has(service));
    if (missingEvidence.length === 0) return { ...pair, missingEvidence };
    const present = pair.services.find((service) => !missing.has(service));
    const note =
      present === undefined
        ? `Evidence missing: neither ${pair.services.join("'s nor ")}'s database could be read; only what the manifest declares counts, so the score may be too low.`
        : `Evidence missing: ${missingEvidence[0]}'s database could not be read, so these figures count only what ${present} recorded; the score may be too low.`;
    return { ...pair, missingEvidence, reasons: [note, ...pair.reasons] };
  });
}

/** Prints the report, or writes it (masked like everything printed) to `file`. */
function emit(report: string, file: string | undefined, context: CliContext): void {
  if (file === undefined) {
    context.output.write('out', report);
    return;
  }
  const path = resolve(context.cwd, file);
  try {
    writeFileSync(path, context.output.redact(report));
  } catch (cause) {
    throw new ConvergeError(
      'REPORT_UNWRITABLE',
      `The report cannot be written to '${file}' (${(cause as NodeJS.ErrnoException).code ?? 'error'}); give a file in a directory that exists and is writable.`,
      { cause },
    );
  }
  context.output.log(`converge: wrote the report to ${file}`);
}
