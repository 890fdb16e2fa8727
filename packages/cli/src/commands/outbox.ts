/**
 * `converge outbox status`: how far the relays are behind in an owner's database: the backlog of
 * committed but unpublished messages, the age of the oldest, and one row per relay from its
 * heartbeat (running, silent or stopped; what it published; its failures). Exits 3 when the
 * oldest waits longer than `--max-age`, when messages wait and no relay is running, or when a
 * running relay has failed `--max-failures` times in a row, so it fits a cron check.
 */
import type { Command } from 'commander';
import type { CliContext } from '../cli-context.js';
import {
  configOption,
  type DatabaseCommandOptions,
  databaseOption,
  examplesHelp,
  jsonOption,
} from '../common-options.js';
import { withStorage } from '../open-storage.js';
import { chooseDatabase } from '../use-database.js';
import { parseDuration, usageError } from './dlq-filter.js';
import { formatOutboxReport, outboxReport } from './outbox-report.js';

interface StatusOptions extends DatabaseCommandOptions {
  readonly maxAge: string;
  readonly maxFailures: string;
}

/**
 * The default `--max-failures`: with the relay's default backoff (100 ms doubling up to 30 s,
 * equal jitter) a relay reaches 10 consecutive failures after about half a minute to a minute of
 * failing without a single success: longer than a blip, short enough to page someone (ADR 0017).
 */
const DEFAULT_MAX_FAILURES = '10';

const PROBLEM_CODES = 'OLDEST_TOO_OLD, NO_RELAY_RUNNING, RELAY_FAILING (in --json: problems[].code)';

function parseCount(text: string, option: string): number {
  if (!/^[1-9]\d{0,8}$/.test(text.trim())) {
    throw usageError(`${option} '${text}' is not a positive whole number; use e.g. ${option} 10.`);
  }
  return Number(text.trim());
}

export function addOutboxCommand(program: Command, context: CliContext): Command {
  const outbox = program.command('outbox').description("the outbox of an owner service's database");
  outbox
    .command('status')
    .description(
      'backlog, age of the oldest unpublished message and one row per relay; exit 3 when the oldest is older than --max-age, no relay runs while messages wait, or a running relay failed --max-failures times in a row',
    )
    .addOption(databaseOption())
    .addOption(configOption())
    .option('--max-age <duration>', 'the oldest unpublished message may wait this long, e.g. 30s, 5m', '5m')
    .option(
      '--max-failures <n>',
      'a running relay may fail this many times in a row before it is a problem',
      DEFAULT_MAX_FAILURES,
    )
    .addOption(jsonOption())
    .addHelpText(
      'after',
      [
        '',
        'Relays, from their heartbeats: running while the last heartbeat is at most 3 of the',
        "relay's heartbeat intervals old; silent after that (killed, hung or cut off from the",
        'database); stopped after a clean stop.',
        '',
        `Exit 3 (problems): ${PROBLEM_CODES}.`,
        examplesHelp([
          'converge outbox status --database sqlite:data/customer.db',
          'converge outbox status --max-age 1m --max-failures 5 --json',
        ]),
      ].join('\n'),
    )
    .action(async (options: StatusOptions) => {
      const maxAgeMs = parseDuration(options.maxAge, '--max-age');
      const maxFailures = parseCount(options.maxFailures, '--max-failures');
      const { url } = chooseDatabase(options, context);
      const report = await withStorage(url, async (storage) => {
        await storage.assertSchemaCurrent();
        const status = await storage.outbox.status();
        const relays = await storage.outbox.listRelays();
        return outboxReport(status, relays, {
          maxAge: options.maxAge,
          maxAgeMs,
          maxFailures,
          sharedOutbox: storage.capabilities.skipLocked,
          now: Date.now(),
        });
      });
      if (options.json === true) context.output.json(report);
      else context.output.result(formatOutboxReport(report, options.maxAge));
      context.settle(report.problems.length === 0 ? 'ok' : 'problems');
    });
  return outbox;
}
