/**
 * `converge doctor`: checks one database the way an operator would before trusting it: it can be
 * reached, Converge's schema is the version this build knows, and commits are durable (PostgreSQL
 * `fsync`, `synchronous_commit`, `full_page_writes`; SQLite WAL and `synchronous=FULL`). Exits 3
 * when any check finds a problem, naming the fix.
 */
import { describeError, isConvergeError, type Storage } from '@converge/core';
import type { Command } from 'commander';
import type { CliContext } from '../cli-context.js';
import { configOption, type DatabaseCommandOptions, databaseOption, jsonOption } from '../common-options.js';
import { openStorage } from '../open-storage.js';
import { chooseDatabase } from '../use-database.js';
import { table } from './dlq-format.js';

interface Check {
  readonly name: string;
  readonly ok: boolean;
  readonly detail: string;
}

export function addDoctorCommand(program: Command, context: CliContext): Command {
  return program
    .command('doctor')
    .description(
      'check reachability, schema version and durability settings of a database; exit 3 on problems',
    )
    .addOption(databaseOption())
    .addOption(configOption())
    .addOption(jsonOption())
    .action(async (options: DatabaseCommandOptions) => {
      const { url, from } = chooseDatabase(options, context);
      const storage = await openStorage(url);
      let checks: Check[];
      try {
        checks = await runChecks(storage, url.trim().startsWith('sqlite:') ? 'sqlite' : 'postgres');
      } finally {
        await storage.close().catch(() => undefined);
      }
      const problems = checks.filter((check) => !check.ok).length;
      if (options.json === true) {
        context.output.json({ database: storage.description, databaseFrom: from, checks, problems });
      } else {
        context.output.result(
          `Database ${storage.description} (from ${from})\n${table(
            ['CHECK', 'RESULT', 'DETAIL'],
            checks.map((check) => [check.name, check.ok ? 'ok' : 'PROBLEM', check.detail]),
          )}\n${problems === 0 ? 'No problems found.' : `${problems} problem(s) found.`}`,
        );
      }
      context.settle(problems === 0 ? 'ok' : 'problems');
    });
}

async function runChecks(storage: Storage, kind: 'sqlite' | 'postgres'): Promise<Check[]> {
  try {
    await storage.transaction((tx) => tx.query('SELECT 1 AS one'));
  } catch (error) {
    return [
      { name: 'reachable', ok: false, detail: `${storage.description}: ${describeError(error).message}` },
    ];
  }
  const checks: Check[] = [{ name: 'reachable', ok: true, detail: storage.description }];
  try {
    await storage.assertSchemaCurrent();
    checks.push({ name: 'schema', ok: true, detail: 'Converge schema is the version this build knows' });
  } catch (error) {
    checks.push({
      name: 'schema',
      ok: false,
      detail: isConvergeError(error) ? error.message : describeError(error).message,
    });
  }
  checks.push(...(kind === 'postgres' ? await postgresDurability(storage) : await sqliteDurability(storage)));
  return checks;
}

async function postgresDurability(storage: Storage): Promise<Check[]> {
  const setting = async (name: string) =>
    (
      await storage.transaction((tx) =>
        tx.query<{ value: string }>('SELECT current_setting($1) AS value', [name]),
      )
    )[0]?.value ?? '';
  const expectOn = async (name: string): Promise<Check> => {
    const value = await setting(name);
    return {
      name,
      ok: value === 'on',
      detail:
        value === 'on'
          ? 'on'
          : `${value}: a server crash can lose committed business changes and their messages; set ${name} = on`,
    };
  };
  return [await expectOn('fsync'), await expectOn('synchronous_commit'), await expectOn('full_page_writes')];
}

async function sqliteDurability(storage: Storage): Promise<Check[]> {
  const [mode] = await storage.transaction((tx) => tx.query<{ journal_mode: string }>('PRAGMA journal_mode'));
  const [sync] = await storage.transaction((tx) => tx.query<{ synchronous: number }>('PRAGMA synchronous'));
  return [
    {
      name: 'journal_mode',
      ok: mode?.journal_mode === 'wal',
      detail:
        mode?.journal_mode === 'wal'
          ? 'wal'
          : `${mode?.journal_mode}: Converge opens files in WAL mode; another program changed it`,
    },
    {
      name: 'synchronous',
      ok: sync?.synchronous === 2 || sync?.synchronous === 3,
      detail:
        sync?.synchronous === 2 || sync?.synchronous === 3
          ? 'FULL'
          : `${sync?.synchronous}: a power loss can lose committed transactions; use synchronous=FULL`,
    },
  ];
}
