/**
 * `converge dlq list|show|replay|archive|edit`: the dead letters of a consumer's database, for
 * people and scripts. Replay, archive and edit only record a request (with who and why) in the
 * database; the running consumer does the replay through its inbox (see `requestDeadLetterReplay`).
 */
import { ConvergeError, maskSecrets, type Storage } from '@converge/core';
import { type Command, Option } from 'commander';
import type { CliContext } from '../cli-context.js';
import {
  addDatabaseOptions,
  configOption,
  type DatabaseCommandOptions,
  databaseOption,
  jsonOption,
} from '../common-options.js';
import { withDatabase } from '../use-database.js';
import { addBulkActionCommand } from './dlq-bulk.js';
import { addEditCommand } from './dlq-edit.js';
import { filterDeadLetters, type ListFilter, parseIds } from './dlq-filter.js';
import { deadLetterDetail, deadLetterGroups, deadLetterTable } from './dlq-format.js';

interface ListOptions extends DatabaseCommandOptions, ListFilter {
  readonly groupBy?: 'fingerprint';
}

/** Adds `converge dlq …` to `program`. */
export function addDlqCommand(program: Command, context: CliContext): Command {
  const dlq = program.command('dlq').description('list, inspect, replay, edit and archive dead letters');
  dlq
    .command('list')
    .description('list dead letters, newest last')
    .addOption(databaseOption())
    .addOption(configOption())
    .option('--consumer <name>', 'only this consumer')
    .option('--type <type>', 'only this message type')
    .option('--reason <code>', 'only this reason code, e.g. HANDLER_RETRIES_EXHAUSTED')
    .option('--key <key>', 'only this key')
    .option('--status <status>', 'only this status: open, replaying, replayed, archived')
    .option('--since <duration>', 'only those that last failed within this long, e.g. 30m, 1h, 2d')
    .option('--fingerprint <fingerprint>', 'only this failure cause (see --group-by fingerprint)')
    .addOption(new Option('--group-by <field>', 'group by failure cause').choices(['fingerprint']))
    .addOption(jsonOption())
    .action(async (options: ListOptions) => {
      await withDatabase(options, context, async (storage) => {
        const all = await storage.inbox.listDeadLetters(options.consumer);
        const letters = filterDeadLetters(all, options, new Date());
        if (options.groupBy === 'fingerprint') {
          const { groups, text } = deadLetterGroups(letters);
          if (options.json === true) context.output.json({ groups });
          else context.output.result(text);
        } else if (options.json === true) {
          context.output.json({ deadLetters: letters });
        } else {
          context.output.result(deadLetterTable(letters));
        }
      });
    });
  addDatabaseOptions(
    dlq
      .command('show')
      .description('show one dead letter with its payload and audit trail')
      .argument('<id>', 'the dead letter id (from dlq list)'),
  ).action(async (id: string, options: DatabaseCommandOptions) => {
    const [numeric] = parseIds([id]);
    await withDatabase(options, context, async (storage) => {
      const letter = await storage.inbox.getDeadLetter(numeric!);
      if (letter === null) throw notFound(numeric!, storage);
      const audit = await storage.inbox.deadLetterAudit(letter.id);
      if (options.json === true) context.output.json({ deadLetter: letter, audit });
      else context.output.result(deadLetterDetail(letter, audit));
    });
  });
  addBulkActionCommand(dlq, 'replay', context);
  addEditCommand(dlq, context);
  addBulkActionCommand(dlq, 'archive', context);
  return dlq;
}

function notFound(id: number, storage: Storage): ConvergeError {
  return new ConvergeError(
    'DEAD_LETTER_NOT_FOUND',
    `There is no dead letter ${id} in ${maskSecrets(storage.description)}; 'converge dlq list' shows the ids.`,
    { details: { id } },
  );
}
