/** `converge doctor` as a real process. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runConverge } from '../test/run-converge.js';

const dir = mkdtempSync(join(tmpdir(), 'converge-doctor-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('converge doctor', () => {
  it('passes a migrated SQLite file (WAL, synchronous=FULL, current schema): exit 0', async () => {
    const database = `sqlite:${join(dir, 'ok.db')}`;
    await runConverge(['migrate', '--database', database]);
    const run = await runConverge(['doctor', '--json', '--database', database]);
    expect(run.code).toBe(0);
    const report = JSON.parse(run.stdout);
    expect(report.problems).toBe(0);
    expect(report.checks.map((c: { name: string }) => c.name)).toEqual([
      'reachable',
      'schema',
      'journal_mode',
      'synchronous',
    ]);
  });

  it('finds an unmigrated database and names the fix: exit 3', async () => {
    const run = await runConverge(['doctor', '--database', `sqlite:${join(dir, 'new.db')}`]);
    expect(run.code).toBe(3);
    expect(run.stdout).toMatch(/schema\s+PROBLEM\s+.*run 'converge migrate/);
    expect(run.stdout).toContain('1 problem(s) found.');
  });

  it('reports an unreachable server as a problem with the password masked: exit 3', async () => {
    const run = await runConverge([
      'doctor',
      '--json',
      '--database',
      'postgres://app:Sup3rSecret@127.0.0.1:1/x',
    ]);
    expect(run.code).toBe(3);
    expect(run.stdout).not.toContain('Sup3rSecret');
    expect(JSON.parse(run.stdout)).toMatchObject({ problems: 1, checks: [{ name: 'reachable', ok: false }] });
  });
});
