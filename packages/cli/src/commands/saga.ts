/**
 * `converge saga list|show|resume|retry|compensate|cancel|markers`: the sagas an orchestrating service's
 * database holds, for people and scripts. `show` is the saga's timeline from its transition log;
 * the actions are operators' interventions, each audited in that log with who and why (see
 * saga-action.ts).
 */
import { type SagaListFilter, SagaStatus } from '@converge/core';
import { type Command, Option } from 'commander';
import type { CliContext } from '../cli-context.js';
import { addDatabaseOptions, type DatabaseCommandOptions, examplesHelp } from '../common-options.js';
import { withDatabase } from '../use-database.js';
import { parseDuration, usageError } from './dlq-filter.js';
import { addSagaActionCommand } from './saga-action.js';
import { sagaDetail, sagaSummary, sagaTable } from './saga-format.js';
import { checkSagaId, loadSaga } from './saga-lookup.js';
import { addSagaMarkersCommand } from './saga-markers.js';

interface ListOptions extends DatabaseCommandOptions {
  readonly state?: SagaStatus;
  readonly name?: string;
  readonly since?: string;
  readonly limit?: string;
  readonly stranded?: boolean;
  readonly aliveWithin: string;
}

const DEFAULT_LIMIT = 100;
/** How old an orchestrator's last heartbeat may be for `--stranded` to count it as running. */
const DEFAULT_ALIVE_WITHIN = '2m';

/** Adds `converge saga …` to `program`. */
export function addSagaCommand(program: Command, context: CliContext): Command {
  const saga = program
    .command('saga')
    .description('list and inspect sagas; resume, retry, compensate or cancel one (audited)');
  addDatabaseOptions(
    saga
      .command('list')
      .description('list sagas, newest first (with --stranded, oldest first)')
      .addOption(new Option('--state <state>', 'only sagas in this state').choices(Object.values(SagaStatus)))
      .option('--name <name>', 'only sagas of this definition name')
      .option('--since <duration>', 'only sagas started within this long, e.g. 30m, 1h, 2d')
      .option('--limit <n>', `at most this many (default: ${DEFAULT_LIMIT})`)
      .option(
        '--stranded',
        'instead, the sagas not yet final whose definition version no running orchestrator registers, oldest first',
      )
      .option(
        '--alive-within <duration>',
        'with --stranded: an orchestrator whose last heartbeat is older than this is not running',
        DEFAULT_ALIVE_WITHIN,
      ),
  )
    .addHelpText(
      'after',
      examplesHelp([
        'converge saga list --state needs-attention',
        'converge saga list --name unsubscribe --since 2h --json',
        'converge saga list --stranded',
      ]),
    )
    .action(async (options: ListOptions) => {
      const limit = parseLimit(options.limit);
      const now = new Date();
      const query = listQuery(options, now);
      await withDatabase(options, context, async (storage) => {
        const found =
          query === 'stranded'
            ? await storage.sagas.listStranded(
                new Date(now.getTime() - parseDuration(options.aliveWithin, '--alive-within')),
                limit + 1,
              )
            : await storage.sagas.list({ ...query, limit: limit + 1 });
        const sagas = found.slice(0, limit);
        if (found.length > limit) {
          context.output.log(`Showing ${limit} of the matching sagas; pass --limit to see more.`);
        }
        if (options.json === true) context.output.json({ sagas: sagas.map(sagaSummary) });
        else if (query === 'stranded' && sagas.length === 0)
          context.output.result(
            'No stranded sagas: a running orchestrator registers the definition version of every saga not yet final.',
          );
        else context.output.result(sagaTable(sagas, now));
      });
    });
  addDatabaseOptions(
    saga
      .command('show')
      .description('show one saga: its steps and its timeline (attempts, errors, compensations, operators)')
      .argument('<id>', 'the saga id (from saga list)'),
  ).action(async (id: string, options: DatabaseCommandOptions) => {
    const sagaId = checkSagaId(id);
    await withDatabase(options, context, async (storage) => {
      const record = await loadSaga(storage, sagaId);
      const transitions = await storage.sagas.transitions(sagaId);
      if (options.json === true) context.output.json({ saga: record, transitions });
      else context.output.result(sagaDetail(record, transitions, new Date()));
    });
  });
  for (const verb of ['resume', 'retry', 'compensate', 'cancel'] as const) {
    addSagaActionCommand(saga, verb, context);
  }
  addSagaMarkersCommand(saga, context);
  return saga;
}

/** The filters of `saga list`, or `'stranded'` (which takes none). */
function listQuery(options: ListOptions, now: Date): SagaListFilter | 'stranded' {
  if (options.stranded === true) {
    const given = (['state', 'name', 'since'] as const).filter((key) => options[key] !== undefined);
    if (given.length > 0) {
      throw usageError(
        `--stranded lists every stranded saga and takes no --${given.join(', --')}; leave ${given.length > 1 ? 'them' : 'it'} out.`,
      );
    }
    return 'stranded';
  }
  return {
    ...(options.state === undefined ? {} : { status: options.state }),
    ...(options.name === undefined ? {} : { name: options.name }),
    ...(options.since === undefined ? {} : { since: new Date(now.getTime() - parseDuration(options.since)) }),
  };
}

function parseLimit(text: string | undefined): number {
  if (text === undefined) return DEFAULT_LIMIT;
  if (!/^[1-9]\d{0,6}$/.test(text.trim())) {
    throw usageError(
      `--limit '${text}' is not a count; use a whole number from 1 to 9999999, e.g. --limit 500.`,
    );
  }
  return Number(text.trim());
}
