/**
 * `converge dlq list|show|replay|archive`: the dead letters of a consumer's database, for people
 * and scripts. Replay and archive only record a request (with who and why) in the database; the
 * running consumer does the replay through its inbox (see `requestDeadLetterReplay`).
 */
import {
  archiveDeadLetter,
  ConvergeError,
  maskSecrets,
  requestDeadLetterReplay,
  type Storage,
} from '@converge/core';
import { type Command, Option } from 'commander';
import type { CliContext } from '../cli-context.js';
import { type DatabaseCommandOptions, databaseOption, jsonOption } from '../common-options.js';
import { withStorage } from '../open-storage.js';
import { passwordOf, resolveDatabaseUrl } from '../resolve-database-url.js';
import { filterDeadLetters, type ListFilter, parseIds } from './dlq-filter.js';
import { deadLetterDetail, deadLetterGroups, deadLetterTable } from './dlq-format.js';

interface ListOptions extends DatabaseCommandOptions, ListFilter {
  readonly groupBy?: 'fingerprint';
}

interface ActionOptions extends DatabaseCommandOptions {
  readonly reason?: string;
  readonly actor?: string;
}

/** Adds `converge dlq …` to `program`. */
export function addDlqCommand(program: Command, context: CliContext): Command {
  const dlq = program.command('dlq').description('list, inspect, replay and archive dead letters');
  dlq
    .command('list')
    .description('list dead letters, newest last')
    .addOption(databaseOption())
    .option('--consumer <name>', 'only this consumer')
    .option('--type <type>', 'only this message type')
    .option('--reason <code>', 'only this reason code, e.g. HANDLER_RETRIES_EXHAUSTED')
    .option('--key <key>', 'only this key')
    .option('--status <status>', 'only this status: open, replaying, replayed, archived')
    .option('--since <duration>', 'only those that last failed within this long, e.g. 30m, 1h, 2d')
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
  dlq
    .command('show')
    .description('show one dead letter with its payload and audit trail')
    .argument('<id>', 'the dead letter id (from dlq list)')
    .addOption(databaseOption())
    .addOption(jsonOption())
    .action(async (id: string, options: DatabaseCommandOptions) => {
      const [numeric] = parseIds([id]);
      await withDatabase(options, context, async (storage) => {
        const letter = await storage.inbox.getDeadLetter(numeric!);
        if (letter === null) throw notFound(numeric!, storage);
        const audit = await storage.inbox.deadLetterAudit(letter.id);
        if (options.json === true) context.output.json({ deadLetter: letter, audit });
        else context.output.result(deadLetterDetail(letter, audit));
      });
    });
  for (const verb of ['replay', 'archive'] as const) {
    dlq
      .command(verb)
      .description(
        verb === 'replay'
          ? 'ask the consumer to replay dead letters through its inbox (in order, never twice)'
          : 'archive dead letters: decided, not to be replayed',
      )
      .argument('<ids...>', 'dead letter ids (all or nothing: if one cannot be acted on, none is)')
      .requiredOption('--reason <text>', 'why, for the audit trail')
      .option('--actor <name>', 'who, for the audit trail (default: $USER)')
      .addOption(databaseOption())
      .addOption(jsonOption())
      .action(async (ids: string[], options: ActionOptions) => {
        const numeric = parseIds(ids);
        await withDatabase(options, context, async (storage) => {
          const action = {
            actor: options.actor ?? context.env.USER ?? 'converge-cli',
            reason: options.reason ?? '',
          };
          const done =
            verb === 'replay'
              ? await requestDeadLetterReplay(storage, numeric, action)
              : await archiveDeadLetter(storage, numeric, action);
          const list = done.map((letter) => letter.id).join(', ');
          if (options.json === true) {
            context.output.json({
              [verb === 'replay' ? 'replaying' : 'archived']: done.map((letter) => letter.id),
            });
          } else if (verb === 'replay') {
            context.output.result(
              `Asked for the replay of ${done.length} dead letter(s): ${list}. The running consumer replays them; follow with 'converge dlq show ID'.`,
            );
          } else {
            context.output.result(`Archived ${done.length} dead letter(s): ${list}.`);
          }
        });
      });
  }
  return dlq;
}

async function withDatabase(
  options: DatabaseCommandOptions,
  context: CliContext,
  work: (storage: Storage) => Promise<void>,
): Promise<void> {
  const { url } = resolveDatabaseUrl(options.database, context.env);
  const password = passwordOf(url);
  if (password !== undefined) context.output.addSecret(password);
  await withStorage(url, async (storage) => {
    await storage.assertSchemaCurrent();
    await work(storage);
  });
  context.settle('ok');
}

function notFound(id: number, storage: Storage): ConvergeError {
  return new ConvergeError(
    'DEAD_LETTER_NOT_FOUND',
    `There is no dead letter ${id} in ${maskSecrets(storage.description)}; 'converge dlq list' shows the ids.`,
    { details: { id } },
  );
}
