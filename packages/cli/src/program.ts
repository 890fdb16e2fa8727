import { Command } from 'commander';
import type { CliContext } from './cli-context.js';
import { addDemoCommand } from './commands/demo.js';
import { addDlqCommand } from './commands/dlq.js';
import { addDoctorCommand } from './commands/doctor.js';
import { addMigrateCommand } from './commands/migrate.js';
import { addOutboxCommand } from './commands/outbox.js';
import { addOwnershipCommand } from './commands/ownership.js';
import { addSagaCommand } from './commands/saga.js';
import { CONFIG_FILE_NAME } from './config-file.js';
import { describeExitCodes, type Outcome } from './exit-codes.js';
import { DATABASE_URL_ENV } from './resolve-database-url.js';

/** How one run of the command ended; `main.ts` turns it into an exit code. */
export type CliResult =
  | { readonly kind: 'done'; readonly outcome: Outcome }
  | { readonly kind: 'failed'; readonly error: unknown; readonly json: boolean };

/** The context `runCli` completes with `settle`. */
export type CliEnvironment = Omit<CliContext, 'settle'>;

/**
 * Runs the `converge` command line `args` (without `node` and the script) to completion. Never
 * throws and never exits: usage errors come back as commander's `CommanderError` (already printed
 * by commander), everything else as the error the command threw, with whether `--json` was given.
 *
 * @example const result = await runCli(['migrate', '--database', 'sqlite:app.db'], environment);
 */
export async function runCli(args: readonly string[], environment: CliEnvironment): Promise<CliResult> {
  let outcome: Outcome = 'ok';
  let json = false;
  const context: CliContext = {
    ...environment,
    settle: (value) => {
      outcome = value;
    },
  };
  const program = createProgram(context);
  program.hook('preAction', (_program, actionCommand) => {
    json = actionCommand.opts().json === true;
  });
  try {
    await program.parseAsync([...args], { from: 'user' });
    return { kind: 'done', outcome };
  } catch (error) {
    return { kind: 'failed', error, json };
  }
}

/**
 * The `converge` program. Commander is told to throw instead of exiting and to print through the
 * masked output; both settings are inherited by the commands added with `program.command()`.
 */
export function createProgram(context: CliContext): Command {
  const program = new Command('converge')
    .description('Converge: transactional outbox, relay and inbox. Migrations and operations from the shell.')
    .version(context.version, '-V, --version', 'print the version of the converge command')
    .helpOption('-h, --help', 'show help')
    .exitOverride()
    .configureOutput({
      writeOut: (text) => context.output.write('out', text),
      writeErr: (text) => context.output.write('err', text),
    })
    .showHelpAfterError("(run 'converge --help' for usage)")
    .addHelpText('after', `\n${describeEnvironment()}\n\n${describeExitCodes()}\n`);
  addMigrateCommand(program, context);
  addDlqCommand(program, context);
  addOutboxCommand(program, context);
  addDoctorCommand(program, context);
  addDemoCommand(program, context);
  addOwnershipCommand(program, context);
  addSagaCommand(program, context);
  return program;
}

function describeEnvironment(): string {
  return [
    'Environment:',
    `  ${DATABASE_URL_ENV}  the database when --database is not given`,
    '  CONVERGE_DEBUG=1       print stack traces of unexpected errors',
    '',
    'Configuration:',
    `  ./${CONFIG_FILE_NAME} (or --config FILE) {"database": "<url>"}, used when neither`,
    `  --database nor ${DATABASE_URL_ENV} gives one`,
  ].join('\n');
}
