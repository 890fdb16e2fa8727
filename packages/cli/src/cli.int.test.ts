/**
 * The `converge` command as a process: version, help, usage errors, database resolution and
 * secret masking, with the exit codes scripts rely on.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
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
      /^converge: No database given: pass --database <url> or set CONVERGE_DATABASE_URL/,
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
