/**
 * `converge dlq replay` and `converge dlq archive`: dead letters named by id, or selected with
 * `--filter field=value` (see docs/adr/0013-dlq-bulk-actions.md).
 *
 * - Ids are all or nothing: every id is checked, then the requests are recorded in one
 *   transaction; if one cannot be acted on (exit 4 or 5), none is.
 * - A filter acts on the open dead letters it matches, one transaction per dead letter, oldest
 *   first, paced by `--rate`: each gets its own result, and the run exits 1 when any failed, else
 *   5 when any conflicted (no longer open, not replayable), else 0.
 * - A bulk action (a filter, or more than one id) asks for confirmation on a terminal and is
 *   refused (exit 2) without `--yes` elsewhere; `--dry-run` checks everything and changes nothing.
 *
 * Both only record a request: the running consumer does the replay through its inbox.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import {
  archiveDeadLetter,
  ConvergeError,
  type DeadLetterActionOptions,
  describeError,
  isConvergeError,
  type OperatorAction,
  requestDeadLetterReplay,
  type Storage,
  type StoredDeadLetter,
} from '@converge/core';
import type { Command } from 'commander';
import type { CliContext } from '../cli-context.js';
import { addDatabaseOptions, type DatabaseCommandOptions, examplesHelp } from '../common-options.js';
import { outcomeOf } from '../exit-codes.js';
import { withDatabase } from '../use-database.js';
import {
  FILTER_FIELDS,
  filterDeadLetters,
  type ListFilter,
  parseFilterExpressions,
  parseIds,
  parseRate,
  usageError,
} from './dlq-filter.js';
import { table } from './dlq-format.js';

type Verb = 'replay' | 'archive';

interface BulkOptions extends DatabaseCommandOptions {
  readonly filter?: string[];
  readonly reason?: string;
  readonly actor?: string;
  readonly rate?: string;
  readonly dryRun?: boolean;
  readonly yes?: boolean;
}

/** One dead letter's result, as printed and as `--json` gives it. */
interface ItemResult {
  readonly id: number;
  readonly consumer: string;
  readonly type: string | null;
  readonly key: string | null;
  /** Done (`replaying`, `archived`), dry run (`would-replay`, `would-archive`), `conflict` or `failed`. */
  readonly result: string;
  /** The error code and message when the result is `conflict` or `failed`. */
  readonly code?: string;
  readonly message?: string;
}

type Act = (
  storage: Storage,
  ids: readonly number[],
  action: OperatorAction,
  options?: DeadLetterActionOptions,
) => Promise<StoredDeadLetter[]>;

const VERBS: Readonly<Record<Verb, { act: Act; done: string; past: string; would: string; label: string }>> =
  {
    replay: {
      act: requestDeadLetterReplay,
      done: 'replaying',
      past: 'replayed',
      would: 'would-replay',
      label: 'Replay',
    },
    archive: {
      act: archiveDeadLetter,
      done: 'archived',
      past: 'archived',
      would: 'would-archive',
      label: 'Archive',
    },
  };

type Plan =
  | { readonly ids: number[]; readonly intervalMs: 0 }
  | { readonly filter: ListFilter; readonly intervalMs: number };

/** Adds `converge dlq replay` or `converge dlq archive` to `dlq`. */
export function addBulkActionCommand(dlq: Command, verb: Verb, context: CliContext): Command {
  const command = dlq
    .command(verb)
    .description(
      verb === 'replay'
        ? 'ask the consumer to replay dead letters through its inbox (in order, never twice)'
        : 'archive dead letters: decided, not to be replayed',
    )
    .argument('[ids...]', 'dead letter ids, all or nothing: if one cannot be acted on, none is')
    .option(
      '--filter <field=value>',
      `instead of ids, the open dead letters matching all filters, one by one; fields: ${FILTER_FIELDS.join(', ')}`,
      (value: string, previous: string[] | undefined) => [...(previous ?? []), value],
    )
    .option('--reason <text>', 'why, for the audit trail (required unless --dry-run)')
    .option('--actor <name>', 'who, for the audit trail (default: $USER)');
  if (verb === 'replay') {
    command.option(
      '--rate <n/s>',
      'pace the requests of a --filter run, e.g. 10/s or 120/m (default: no pause)',
    );
  }
  command
    .option('--dry-run', `list what would be ${VERBS[verb].past} and change nothing`)
    .option('--yes', 'go ahead with a bulk action (a filter, or more than one id) without asking');
  return addDatabaseOptions(command)
    .addHelpText(
      'after',
      examplesHelp([
        `converge dlq ${verb} 17 18 --reason 'billing fixed (INC-42)'`,
        `converge dlq ${verb} --filter reason=HANDLER_RETRIES_EXHAUSTED --filter since=2h --dry-run`,
        `converge dlq ${verb} --filter consumer=billing --filter fingerprint=3f2a… --reason '…' --yes${verb === 'replay' ? ' --rate 5/s' : ''}`,
      ]),
    )
    .action(async (ids: string[], options: BulkOptions) => {
      const plan = planOf(verb, ids, options);
      const action = {
        actor: options.actor ?? context.env.USER ?? 'converge-cli',
        reason: options.reason ?? 'dry run',
      };
      await withDatabase(options, context, async (storage) => {
        const results =
          'ids' in plan
            ? await byIds(storage, verb, plan.ids, action, options, context)
            : await byFilter(storage, verb, plan, action, options, context);
        report(verb, results, options, context);
      });
    });
}

/** Checks the command line before the database is opened. */
function planOf(verb: Verb, ids: readonly string[], options: BulkOptions): Plan {
  const expressions = options.filter ?? [];
  const filtered = expressions.length > 0;
  if (ids.length > 0 && filtered) {
    throw usageError(
      `Give dead letter ids or --filter, not both: ids are ${VERBS[verb].past} all or nothing, a filter's matches one by one.`,
    );
  }
  if (ids.length === 0 && !filtered) {
    throw usageError(
      `Name the dead letters to ${verb}: ids (see 'converge dlq list'), or --filter field=value, e.g. converge dlq ${verb} --filter reason=HANDLER_RETRIES_EXHAUSTED --dry-run.`,
    );
  }
  if (options.dryRun !== true && (options.reason ?? '').trim().length === 0) {
    throw usageError(
      `--reason <text> is required: say why, for the audit trail, e.g. --reason 'billing fixed (INC-42)'.`,
    );
  }
  if (options.rate !== undefined && !filtered) {
    throw usageError(
      '--rate paces a --filter run; dead letters named by id are requested together, in one transaction.',
    );
  }
  if (filtered) {
    return {
      filter: parseFilterExpressions(expressions),
      intervalMs: options.rate === undefined ? 0 : parseRate(options.rate),
    };
  }
  return { ids: parseIds(ids), intervalMs: 0 };
}

/** All or nothing: checked first (exit 4 or 5 before any question), then one transaction. */
async function byIds(
  storage: Storage,
  verb: Verb,
  ids: readonly number[],
  action: OperatorAction,
  options: BulkOptions,
  context: CliContext,
): Promise<ItemResult[]> {
  const { act, done, would } = VERBS[verb];
  const checked = await act(storage, ids, action, { dryRun: true });
  if (options.dryRun === true) return checked.map((letter) => itemOf(letter, would));
  if (checked.length > 1) await confirm(verb, checked.length, options, context);
  return (await act(storage, ids, action)).map((letter) => itemOf(letter, done));
}

/** Per item, oldest first, paced by `--rate`, with a progress bar on a terminal. */
async function byFilter(
  storage: Storage,
  verb: Verb,
  plan: { readonly filter: ListFilter; readonly intervalMs: number },
  action: OperatorAction,
  options: BulkOptions,
  context: CliContext,
): Promise<ItemResult[]> {
  const candidates = await storage.inbox.listDeadLetters(plan.filter.consumer);
  const letters = filterDeadLetters(candidates, { ...plan.filter, status: 'open' }, new Date());
  const dryRun = options.dryRun === true;
  if (letters.length > 0 && !dryRun) await confirm(verb, letters.length, options, context);
  const { act, done, would } = VERBS[verb];
  const progress = dryRun ? null : context.terminal.progress(letters.length, VERBS[verb].label);
  const results: ItemResult[] = [];
  const started = Date.now();
  try {
    for (const [index, letter] of letters.entries()) {
      // A steady schedule, so a slow request does not slow the rate further.
      const waitMs = dryRun ? 0 : started + index * plan.intervalMs - Date.now();
      if (waitMs > 0) await sleep(waitMs);
      try {
        await act(storage, [letter.id], action, { dryRun });
        results.push(itemOf(letter, dryRun ? would : done));
      } catch (error) {
        results.push(failedItem(letter, error));
      }
      progress?.tick();
    }
  } finally {
    progress?.stop();
  }
  return results;
}

/** Asks on a terminal; refuses without `--yes` anywhere else. */
async function confirm(verb: Verb, count: number, options: BulkOptions, context: CliContext): Promise<void> {
  if (options.yes === true) return;
  const what = `${verb} ${count} dead letter(s)`;
  if (!context.terminal.interactive) {
    throw new ConvergeError(
      'CONFIRMATION_REQUIRED',
      `Refusing to ${what} without confirmation: stdin or stdout is not a terminal. Pass --yes to go ahead, or --dry-run to list them first.`,
      { details: { count } },
    );
  }
  if (!(await context.terminal.confirm(`${VERBS[verb].label} ${count} dead letter(s)?`))) {
    throw new ConvergeError('NOT_CONFIRMED', `Nothing was changed: the ${verb} was not confirmed.`, {
      details: { count },
    });
  }
}

function itemOf(letter: StoredDeadLetter, result: string): ItemResult {
  return { id: letter.id, consumer: letter.consumer, type: letter.type, key: letter.key, result };
}

function failedItem(letter: StoredDeadLetter, error: unknown): ItemResult {
  const code = isConvergeError(error) ? error.code : 'UNEXPECTED';
  const outcome = outcomeOf(code);
  return {
    ...itemOf(letter, outcome === 'conflict' || outcome === 'notFound' ? 'conflict' : 'failed'),
    code,
    message: describeError(error).message,
  };
}

function report(verb: Verb, results: readonly ItemResult[], options: BulkOptions, context: CliContext): void {
  const { done, would } = VERBS[verb];
  const acted = results
    .filter((item) => item.result === done || item.result === would)
    .map((item) => item.id);
  const conflicts = results.filter((item) => item.result === 'conflict').length;
  const failures = results.filter((item) => item.result === 'failed').length;
  const dryRun = options.dryRun === true;
  if (options.json === true) {
    context.output.json({ dryRun, [dryRun ? would : done]: acted, results });
  } else if (results.length === 0) {
    context.output.result('No open dead letters match; nothing was changed.');
  } else {
    const rows = results.map((item) => [
      String(item.id),
      item.consumer,
      item.type ?? '-',
      item.key ?? '-',
      item.result,
      item.message ?? '',
    ]);
    context.output.result(
      `${table(['ID', 'CONSUMER', 'TYPE', 'KEY', 'RESULT', 'DETAIL'], rows)}\n${summary(verb, acted, dryRun)}${
        conflicts + failures > 0
          ? ` ${conflicts} conflict(s) and ${failures} failure(s): see DETAIL; nothing else was changed for them.`
          : ''
      }`,
    );
  }
  if (failures > 0) context.settle('failure');
  else if (conflicts > 0) context.settle('conflict');
}

function summary(verb: Verb, acted: readonly number[], dryRun: boolean): string {
  const list = acted.length === 0 ? '' : `: ${acted.join(', ')}`;
  if (dryRun)
    return `Dry run: ${acted.length} dead letter(s) would be ${VERBS[verb].past}${list}; nothing was changed.`;
  if (verb === 'archive') return `Archived ${acted.length} dead letter(s)${list}.`;
  return `Asked for the replay of ${acted.length} dead letter(s)${list}. The running consumer replays them; follow with 'converge dlq show ID'.`;
}
