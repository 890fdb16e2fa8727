/**
 * `converge demo`: runs the Sysops Squad reference system with chaos and prints whether every
 * database converged (see `@converge/sysops-squad`). Exit 0 only when the report says
 * `consistent`; 3 when it does not (the check found problems); 2 for bad options.
 */
import { ConvergeError } from '@converge/core';
import { type Command, Option } from 'commander';
import type { CliContext } from '../cli-context.js';
import { jsonOption } from '../common-options.js';

interface DemoCommandOptions {
  readonly transactions: string;
  readonly seed?: string;
  readonly chaos: boolean;
  readonly dir?: string;
  readonly postgres?: string;
  readonly pattern: string;
  readonly timeout: string;
  readonly json?: boolean;
}

/** Adds `converge demo` to `program`. */
export function addDemoCommand(program: Command, context: CliContext): Command {
  return program
    .command('demo')
    .description(
      'run the reference system (customer unsubscribes across Customer Profile, Support Contract, Billing Payment and Audit) with faults, and check that it converges',
    )
    .option('--transactions <n>', 'business transactions to run', '1000')
    .option('--seed <n>', 'seed of the plan and the faults (default: random, printed)')
    .option('--no-chaos', 'no kills, no outage, no bad messages')
    .option(
      '--dir <folder>',
      'keep the SQLite files and logs in this new or empty folder (default: a temporary one)',
    )
    .option(
      '--postgres <url>',
      'a PostgreSQL server on which to create a database per service (dropped after a consistent run) instead of SQLite files',
    )
    .addOption(
      new Option(
        '--pattern <name>',
        'the eventual-consistency pattern: event (choreographed through events) or orchestrated (sagas calling the services over HTTP)',
      )
        .choices(['event', 'orchestrated'])
        .default('event'),
    )
    .option('--timeout <seconds>', 'how long to wait for convergence after the last transaction', '120')
    .addOption(jsonOption())
    .addHelpText(
      'after',
      '\nExit codes: 0 consistent, 3 not consistent (the report says what differs), 2 bad options.\n',
    )
    .action(async (options: DemoCommandOptions) => {
      const transactions = wholeNumber(options.transactions, '--transactions');
      const seed = options.seed === undefined ? undefined : wholeNumber(options.seed, '--seed');
      const timeoutSeconds = wholeNumber(options.timeout, '--timeout');
      // Loaded only for this command: the others never pay for the reference system.
      const { removeDemoDir, renderReport, runDemo } = await import('@converge/sysops-squad');
      let progress: ReturnType<CliContext['terminal']['progress']> | undefined;
      let reported = 0;
      const orchestrated = options.pattern === 'orchestrated';
      if (options.json !== true)
        context.output.log(
          orchestrated
            ? 'Starting Customer Profile, Support Contract, Billing Payment and two orchestrator instances…'
            : 'Starting Customer Profile, Support Contract, Billing Payment and Audit…',
        );
      const report = await runDemo({
        pattern: orchestrated ? 'orchestrated' : 'event',
        transactions,
        chaos: options.chaos,
        convergeTimeoutMs: timeoutSeconds * 1000,
        ...(seed === undefined ? {} : { seed }),
        ...(options.dir === undefined ? {} : { dir: options.dir }),
        ...(options.postgres === undefined ? {} : { postgres: options.postgres }),
        onProgress: ({ phase, done, total }) => {
          if (phase === 'running') progress ??= context.terminal.progress(total, 'transactions');
          for (; reported < done; reported += 1) progress?.tick();
          if (phase === 'converging') {
            progress?.stop();
            if (options.json !== true) context.output.log('Waiting until every service has converged…');
          }
        },
      }).finally(() => progress?.stop());
      if (options.json === true) context.output.json(report);
      else context.output.result(renderReport(report));
      if (report.consistent && options.dir === undefined) removeDemoDir(report.dir);
      context.settle(report.consistent ? 'ok' : 'problems');
    });
}

function wholeNumber(text: string, flag: string): number {
  const value = Number(text);
  if (!/^\d+$/.test(text.trim()) || !Number.isSafeInteger(value)) {
    throw new ConvergeError(
      'CONFIG_INVALID',
      `${flag} takes a whole number, e.g. ${flag} 200 (got '${text}').`,
      {
        details: { field: flag },
      },
    );
  }
  return value;
}
