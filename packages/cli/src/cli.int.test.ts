/**
 * The `converge` command as a process: version, help, usage errors, database resolution and
 * secret masking, with the exit codes scripts rely on.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runConverge } from '../test/run-converge.js';

const dir = mkdtempSync(join(tmpdir(), 'converge-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const PASSWORD = 'Sup3rS3cretPw';
/** Nothing listens on port 1, so the connection is refused at once. */
const UNREACHABLE = `postgres://converge:${PASSWORD}@127.0.0.1:1/orders`;

describe('converge', () => {
  it('prints the version of @converge/cli with --version', async () => {
    const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
      version: string;
    };
    const run = await runConverge(['--version']);
    expect(run).toMatchObject({ code: 0, stdout: `${version}\n`, stderr: '' });
  });

  it('documents the exit codes in --help', async () => {
    const run = await runConverge(['--help']);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('migrate');
    expect(run.stdout).toMatch(
      /Exit codes:\n\s+0 {2}ok\n\s+1 {2}failure\n\s+2 {2}usage or configuration error/,
    );
    expect(run.stdout).toContain('3  a check found problems');
    expect(run.stdout).toContain('CONVERGE_DATABASE_URL');
    expect(run.stdout).toContain('./converge.config.json (or --config FILE) {"database": "<url>"}');
  });

  it('exits 2 with commander’s message for an unknown command', async () => {
    const run = await runConverge(['bogus']);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain("unknown command 'bogus'");
    expect(run.stdout).toBe('');
  });

  it('exits 2 for an unknown option and for an unexpected argument', async () => {
    const option = await runConverge(['migrate', '--bogus']);
    expect(option.code).toBe(2);
    expect(option.stderr).toContain("unknown option '--bogus'");
    const argument = await runConverge(['migrate', 'extra', '--database', 'sqlite::memory:']);
    expect(argument.code).toBe(2);
    expect(argument.stderr).toContain('too many arguments');
  });

  it('exits 2 and shows the help when no command is given', async () => {
    const run = await runConverge([]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('Usage: converge');
  });
});

describe('choosing the database', () => {
  it('exits 2 naming --database and CONVERGE_DATABASE_URL when no database is given', async () => {
    const run = await runConverge(['migrate']);
    expect(run.code).toBe(2);
    expect(run.stdout).toBe('');
    expect(run.stderr).toMatch(
      /^converge: No database given: pass --database <url> or set CONVERGE_DATABASE_URL \(or write \{"database": "<url>"\} in \.\/converge\.config\.json\)/,
    );
  });

  it('treats an empty CONVERGE_DATABASE_URL as not set', async () => {
    const run = await runConverge(['migrate'], { CONVERGE_DATABASE_URL: '' });
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('No database given');
  });

  it('uses CONVERGE_DATABASE_URL when --database is not given', async () => {
    const file = join(dir, 'from-env.db');
    const run = await runConverge(['migrate'], { CONVERGE_DATABASE_URL: `sqlite:${file}` });
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(`Database sqlite:${file}: migrated from version 0 to `);
  });

  it('prefers --database over CONVERGE_DATABASE_URL', async () => {
    const file = join(dir, 'from-flag.db');
    const run = await runConverge(['migrate', '--database', `sqlite:${file}`], {
      CONVERGE_DATABASE_URL: 'mysql://nobody@nowhere/db',
    });
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(`Database sqlite:${file}: migrated`);
  });

  it('exits 2 for a database URL with an unsupported scheme, masking its password', async () => {
    const run = await runConverge(['migrate', '--database', `mysql://app:${PASSWORD}@db/orders`]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain("converge: Database URL 'mysql://app:***@db/orders' cannot be used");
    expect(run.stderr).toContain('the scheme is not supported');
    expect(run.stdout + run.stderr).not.toContain(PASSWORD);
  });
});

describe('an unreachable PostgreSQL', () => {
  it('exits 1 with one line naming the masked URL, never the password', async () => {
    const run = await runConverge(['migrate', '--database', UNREACHABLE]);
    expect(run.code).toBe(1);
    expect(run.stdout).toBe('');
    expect(run.stderr).toMatch(
      /^converge: Cannot connect to database postgres:\/\/converge:\*\*\*@127\.0\.0\.1:1\/orders: .*ECONNREFUSED.*\n$/,
    );
    expect(run.stderr).not.toContain(PASSWORD);
  });

  it('with --json, reports the error code as JSON on stderr and prints nothing on stdout', async () => {
    const run = await runConverge(['migrate', '--json', '--database', UNREACHABLE]);
    expect(run.code).toBe(1);
    expect(run.stdout).toBe('');
    expect(JSON.parse(run.stderr)).toEqual({
      error: {
        code: 'DATABASE_CONNECTION_FAILED',
        message: expect.stringContaining('converge:***@'),
        exitCode: 1,
      },
    });
    expect(run.stderr).not.toContain(PASSWORD);
  });

  it('never prints the password, not even in the CONVERGE_DEBUG=1 stack traces, nor from the environment', async () => {
    const run = await runConverge(['migrate', '--dry-run'], {
      CONVERGE_DATABASE_URL: UNREACHABLE,
      CONVERGE_DEBUG: '1',
    });
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('Caused by: Error: connect ECONNREFUSED');
    expect(run.stdout + run.stderr).not.toContain(PASSWORD);
  });
});

describe('every command', () => {
  /** The subcommands listed under "Commands:" in a help text, without `help` itself. */
  const subcommands = (help: string) =>
    [...(help.split('Commands:\n')[1] ?? '').matchAll(/^ {2}([a-z][a-z-]*)/gm)]
      .map((match) => match[1]!)
      .filter((name) => name !== 'help');

  it('prints its --help and exits 0, down to every subcommand', async () => {
    const seen: string[] = [];
    const visit = async (path: string[]) => {
      const run = await runConverge([...path, '--help']);
      expect({ path, code: run.code, stderr: run.stderr }).toEqual({ path, code: 0, stderr: '' });
      expect(run.stdout).toContain(`Usage: converge${path.map((word) => ` ${word}`).join('')}`);
      seen.push(path.join(' '));
      for (const name of subcommands(run.stdout)) await visit([...path, name]);
    };
    await visit([]);
    expect(seen).toEqual(
      expect.arrayContaining([
        'migrate',
        'dlq list',
        'dlq show',
        'dlq replay',
        'dlq edit',
        'dlq archive',
        'outbox status',
        'doctor',
      ]),
    );
  });

  it('exits 2 for a missing SQLite folder and 1 for a missing PostgreSQL database: one line with the fix', async () => {
    const commands = [
      ['migrate'],
      ['dlq', 'list'],
      ['dlq', 'show', '1'],
      ['dlq', 'replay', '1', '--reason', 'x'],
      ['dlq', 'edit', '1', '--data', '{}', '--reason', 'x'],
      ['dlq', 'archive', '--filter', 'consumer=billing', '--reason', 'x'],
      ['outbox', 'status'],
    ];
    for (const command of commands) {
      const sqlite = await runConverge([
        ...command,
        '--database',
        `sqlite:${join(dir, 'no', 'such', 'x.db')}`,
      ]);
      expect({ command, code: sqlite.code, stdout: sqlite.stdout }).toEqual({ command, code: 2, stdout: '' });
      expect(sqlite.stderr).toMatch(
        /^converge: Cannot open SQLite database .*Check that the directory exists[^\n]*\n$/,
      );
      const postgres = await runConverge([
        ...command,
        '--database',
        `postgres://postgres:${PASSWORD}@127.0.0.1:5432/converge_no_such_db`,
      ]);
      expect({ command, code: postgres.code }).toEqual({ command, code: 1 });
      expect(postgres.stderr).toMatch(
        /^converge: Cannot connect to database [^\n]*Check that the server is running[^\n]*\n$/,
      );
      expect(postgres.stderr).not.toContain(PASSWORD);
    }
  });
});

describe('the configuration file', () => {
  /** A project folder holding `converge.config.json` with `content`, and a `data/` folder. */
  const project = (name: string, content: string) => {
    const folder = join(dir, name);
    mkdirSync(join(folder, 'data'), { recursive: true });
    writeFileSync(join(folder, 'converge.config.json'), content);
    return folder;
  };

  it('gives the database when neither --database nor CONVERGE_DATABASE_URL does; a relative SQLite path is relative to the file', async () => {
    const folder = project('with-config', '{"database": "sqlite:data/app.db"}');
    const here = await runConverge(['migrate'], {}, { cwd: folder });
    expect(here.code).toBe(0);
    expect(here.stdout).toContain(`Database sqlite:${join(folder, 'data', 'app.db')}: migrated`);

    const elsewhere = await runConverge(
      ['doctor', '--json', '--config', join(folder, 'converge.config.json')],
      {},
      { cwd: dir },
    );
    expect(elsewhere.code).toBe(0);
    expect(JSON.parse(elsewhere.stdout)).toMatchObject({
      database: `sqlite:${join(folder, 'data', 'app.db')}`,
      databaseFrom: join(folder, 'converge.config.json'),
    });
  });

  it('comes after --database and CONVERGE_DATABASE_URL', async () => {
    const folder = project('overridden', '{"database": "sqlite:data/from-file.db"}');
    const fromEnv = await runConverge(
      ['doctor', '--json'],
      { CONVERGE_DATABASE_URL: `sqlite:${join(folder, 'env.db')}` },
      { cwd: folder },
    );
    expect(JSON.parse(fromEnv.stdout)).toMatchObject({ databaseFrom: 'CONVERGE_DATABASE_URL' });
    const fromFlag = await runConverge(
      ['doctor', '--json', '--database', `sqlite:${join(folder, 'flag.db')}`],
      { CONVERGE_DATABASE_URL: `sqlite:${join(folder, 'env.db')}` },
      { cwd: folder },
    );
    expect(JSON.parse(fromFlag.stdout)).toMatchObject({ databaseFrom: '--database' });
  });

  it('is not read when --database is given, so a broken one does not get in the way', async () => {
    const folder = project('broken-but-unused', '{ not json');
    const run = await runConverge(
      ['migrate', '--database', `sqlite:${join(folder, 'x.db')}`],
      {},
      { cwd: folder },
    );
    expect(run.code).toBe(0);
  });

  it('exits 2 with one line naming the file, the problem and the fix', async () => {
    const cases: [string, string][] = [
      ['{ not json', 'is not JSON'],
      ['["sqlite:x.db"]', 'is not a JSON object'],
      ['{"databse": "sqlite:x.db"}', "has an unknown setting 'databse'; the settings are: $schema, database"],
      ['{"database": 42}', "has a 'database' that is not a non-empty string"],
      ['{}', 'No database given: pass --database <url> or set CONVERGE_DATABASE_URL (or set "database" in'],
    ];
    for (const [index, [content, message]] of cases.entries()) {
      const folder = project(`bad-${index}`, content);
      const run = await runConverge(['dlq', 'list'], {}, { cwd: folder });
      expect({ content, code: run.code, stdout: run.stdout }).toEqual({ content, code: 2, stdout: '' });
      expect(run.stderr).toMatch(/^converge: [^\n]+\n$/);
      expect(run.stderr).toContain(message);
    }
    const missing = await runConverge(
      ['migrate', '--config', 'nowhere.json', '--database', 'sqlite::memory:'],
      {},
      { cwd: dir },
    );
    expect(missing.code).toBe(2);
    expect(missing.stderr).toBe(
      `converge: Configuration file ${join(dir, 'nowhere.json')} cannot be read: it does not exist; check the --config path.\n`,
    );
  });
});
