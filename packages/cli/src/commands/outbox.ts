/**
 * `converge outbox status`: how far the relay is behind in an owner's database: the backlog of
 * committed but unpublished messages and the age of the oldest. Exits 3 when the oldest waits
 * longer than `--max-age` (a relay that is down or falling behind), so it fits a cron check.
 */
import type { Command } from 'commander';
import type { CliContext } from '../cli-context.js';
import { configOption, type DatabaseCommandOptions, databaseOption, jsonOption } from '../common-options.js';
import { withStorage } from '../open-storage.js';
import { chooseDatabase } from '../use-database.js';
import { parseDuration } from './dlq-filter.js';

interface StatusOptions extends DatabaseCommandOptions {
  readonly maxAge: string;
}

export function addOutboxCommand(program: Command, context: CliContext): Command {
  const outbox = program.command('outbox').description("the outbox of an owner service's database");
  outbox
    .command('status')
    .description('backlog and age of the oldest unpublished message; exit 3 when it is older than --max-age')
    .addOption(databaseOption())
    .addOption(configOption())
    .option('--max-age <duration>', 'the oldest unpublished message may wait this long, e.g. 30s, 5m', '5m')
    .addOption(jsonOption())
    .action(async (options: StatusOptions) => {
      const maxAgeMs = parseDuration(options.maxAge, '--max-age');
      const { url } = chooseDatabase(options, context);
      const status = await withStorage(url, async (storage) => {
        await storage.assertSchemaCurrent();
        return storage.outbox.status();
      });
      const ageMs =
        status.oldestUnpublishedAt === null ? 0 : Date.now() - status.oldestUnpublishedAt.getTime();
      const behind = ageMs > maxAgeMs;
      if (options.json === true) {
        context.output.json({ ...status, oldestUnpublishedAgeMs: ageMs, maxAgeMs, behind });
      } else {
        context.output.result(
          [
            `backlog                 ${status.backlog} unpublished message(s)`,
            `oldest unpublished      ${status.oldestUnpublishedAt === null ? '-' : `${status.oldestUnpublishedAt.toISOString()} (${Math.round(ageMs / 1000)} s ago)`}`,
            `published, not pruned   ${status.publishedRetained}`,
            behind
              ? `PROBLEM: the oldest unpublished message has waited longer than ${options.maxAge}; is a relay running, and can it reach the transport?`
              : `ok: nothing has waited longer than ${options.maxAge}`,
          ].join('\n'),
        );
      }
      context.settle(behind ? 'problems' : 'ok');
    });
  return outbox;
}
