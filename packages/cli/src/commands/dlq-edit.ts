/**
 * `converge dlq edit ID --data @file.json --reason "…"`: the audited edit-and-replay of one dead
 * letter. The message's `data` is replaced (its other attributes are kept), the old and new sha256
 * go into the audit trail, and the running consumer replays the edited message (see
 * `editDeadLetter`).
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { editDeadLetter } from '@converge/core';
import type { Command } from 'commander';
import type { CliContext } from '../cli-context.js';
import { addDatabaseOptions, type DatabaseCommandOptions, examplesHelp } from '../common-options.js';
import { withDatabase } from '../use-database.js';
import { parseIds, usageError } from './dlq-filter.js';

interface EditOptions extends DatabaseCommandOptions {
  readonly data: string;
  readonly reason: string;
  readonly actor?: string;
  readonly dryRun?: boolean;
}

/** Adds `converge dlq edit` to `dlq`. */
export function addEditCommand(dlq: Command, context: CliContext): Command {
  const command = dlq
    .command('edit')
    .description("replace an open dead letter's data and ask the consumer to replay it (audited)")
    .argument('<id>', 'the dead letter id (from dlq list)')
    .requiredOption('--data <json|@file>', 'the new data: inline JSON, or @path/to/file.json')
    .requiredOption('--reason <text>', 'why, for the audit trail')
    .option('--actor <name>', 'who, for the audit trail (default: $USER)')
    .option('--dry-run', 'print the edited message and change nothing');
  return addDatabaseOptions(command)
    .addHelpText(
      'after',
      examplesHelp([
        `converge dlq edit 17 --data @fixed.json --reason 'amount had the wrong sign (INC-43)'`,
        `converge dlq edit 17 --data '{"customerId":"c-42","amount":12}' --reason '…' --dry-run`,
      ]),
    )
    .action(async (id: string, options: EditOptions) => {
      const [numeric] = parseIds([id]);
      const data = readData(options.data, context.cwd);
      await withDatabase(options, context, async (storage) => {
        const action = { actor: options.actor ?? context.env.USER ?? 'converge-cli', reason: options.reason };
        const dryRun = options.dryRun === true;
        const edited = await editDeadLetter(storage, numeric!, data, action, { dryRun });
        const { deadLetter, previousSha256, sha256 } = edited;
        if (options.json === true) {
          context.output.json({
            dryRun,
            id: deadLetter.id,
            status: deadLetter.status,
            previousSha256,
            sha256,
            body: deadLetter.body,
          });
        } else if (dryRun) {
          context.output.result(
            `${deadLetter.body}\nDry run: dead letter ${deadLetter.id} would hold this message (sha256 ${sha256}, was ${previousSha256}) and be replayed; nothing was changed.`,
          );
        } else {
          context.output.result(
            `Edited dead letter ${deadLetter.id} (sha256 ${previousSha256} -> ${sha256}) and asked for its replay. The running consumer replays it; follow with 'converge dlq show ${deadLetter.id}'.`,
          );
        }
      });
    });
}

/** `--data`: inline JSON, or `@file` (relative to the current directory) holding JSON. */
function readData(value: string, cwd: string): unknown {
  let text = value;
  let source = '--data';
  if (value.startsWith('@')) {
    const path = resolve(cwd, value.slice(1));
    source = `--data file ${path}`;
    try {
      text = readFileSync(path, 'utf8');
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      throw usageError(`${source} cannot be read (${code ?? String(error)}); check the path after '@'.`);
    }
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw usageError(
      `${source} is not valid JSON (${(error as Error).message}); give a JSON value inline, or @path/to/file.json.`,
    );
  }
}
