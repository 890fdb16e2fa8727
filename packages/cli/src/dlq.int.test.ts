/** `converge dlq …` as a real process, on a SQLite consumer database holding dead letters. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSqliteStorage } from '../../core/src/storage/sqlite/index.js';
import { deadLetter } from '../test/dead-letter-fixture.js';
import { runConverge } from '../test/run-converge.js';

const dir = mkdtempSync(join(tmpdir(), 'converge-dlq-cli-'));
const file = join(dir, 'billing.db');
const database = `sqlite:${file}`;

beforeAll(async () => {
  const storage = createSqliteStorage({ path: file });
  await storage.migrate();
  await storage.transaction(async (tx) => {
    await storage.inbox.addDeadLetter(tx, deadLetter(1));
    await storage.inbox.addDeadLetter(tx, deadLetter(2));
    await storage.inbox.addDeadLetter(
      tx,
      deadLetter(3, {
        reason: 'MALFORMED',
        messageId: null,
        key: null,
        sequence: null,
        errorMessage: 'the body is not JSON',
        fingerprint: 'f-malformed',
      }),
    );
  });
  await storage.close();
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('converge dlq', () => {
  it('list prints a table, and with --json only JSON', async () => {
    const run = await runConverge(['dlq', 'list', '--database', database]);
    expect(run.code).toBe(0);
    expect(run.stdout.split('\n')[0]).toMatch(/^ID\s+CONSUMER\s+REASON\s+TYPE\s+KEY\s+SEQ\s+STATUS/);
    expect(run.stdout).toContain('HANDLER_TERMINAL_ERROR');

    const json = await runConverge([
      'dlq',
      'list',
      '--json',
      '--reason',
      'MALFORMED',
      '--database',
      database,
    ]);
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toMatchObject({
      deadLetters: [{ id: 3, reason: 'MALFORMED', status: 'open' }],
    });
  });

  it('list --group-by fingerprint puts failures of one cause together', async () => {
    const run = await runConverge([
      'dlq',
      'list',
      '--group-by',
      'fingerprint',
      '--json',
      '--database',
      database,
    ]);
    expect(run.code).toBe(0);
    const { groups } = JSON.parse(run.stdout) as { groups: { count: number; ids: number[] }[] };
    expect(groups.map((g) => [g.count, g.ids])).toEqual([
      [2, [1, 2]],
      [1, [3]],
    ]);
  });

  it('show prints the dead letter with its audit trail; an unknown id exits 4', async () => {
    const run = await runConverge(['dlq', 'show', '1', '--json', '--database', database]);
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({
      deadLetter: { id: 1, key: 'customer-1' },
      audit: [{ actor: 'converge:billing', action: 'created' }],
    });
    const text = await runConverge(['dlq', 'show', '1', '--database', database]);
    expect(text.stdout).toContain('Audit trail:');
    const missing = await runConverge(['dlq', 'show', '999', '--database', database]);
    expect(missing).toMatchObject({ code: 4, stdout: '' });
    expect(missing.stderr).toContain('There is no dead letter 999');
  });

  it('replay is all or nothing: with an unknown id among them, exits 4 and changes none', async () => {
    const run = await runConverge(['dlq', 'replay', '1', '999', '--reason', 'fixed', '--database', database]);
    expect(run.code).toBe(4);
    expect(run.stderr).toContain('There is no dead letter 999');
    const shown = JSON.parse(
      (await runConverge(['dlq', 'show', '1', '--json', '--database', database])).stdout,
    );
    expect(shown.deadLetter.status).toBe('open');
    expect(shown.audit).toHaveLength(1);
  });

  it('replay records the request with who and why; a second replay conflicts (5); an unkeyed one conflicts too', async () => {
    const run = await runConverge([
      'dlq',
      'replay',
      '2',
      '--reason',
      'contract restored',
      '--actor',
      'alice',
      '--database',
      database,
    ]);
    expect(run).toMatchObject({ code: 0, stderr: '' });
    expect(run.stdout).toContain('Asked for the replay of 1 dead letter(s): 2.');
    const shown = JSON.parse(
      (await runConverge(['dlq', 'show', '2', '--json', '--database', database])).stdout,
    );
    expect(shown.deadLetter.status).toBe('replaying');
    expect(shown.audit.at(-1)).toMatchObject({
      actor: 'alice',
      action: 'replay-requested',
      detail: 'contract restored',
    });

    const again = await runConverge(['dlq', 'replay', '2', '--reason', 'again', '--database', database]);
    expect(again.code).toBe(5);
    expect(again.stderr).toContain('is replaying, not open');
    const unkeyed = await runConverge(['dlq', 'replay', '3', '--reason', 'try', '--database', database]);
    expect(unkeyed.code).toBe(5);
    expect(unkeyed.stderr).toContain('archive it instead');
    const archived = await runConverge([
      'dlq',
      'archive',
      '3',
      '--reason',
      'junk from a test producer',
      '--json',
      '--database',
      database,
    ]);
    expect(archived.code).toBe(0);
    expect(JSON.parse(archived.stdout)).toEqual({
      dryRun: false,
      archived: [3],
      results: [{ id: 3, consumer: 'billing', type: 'customer.unsubscribed', key: null, result: 'archived' }],
    });
  });

  it('bad input exits 2 with a one-line reason and no stack trace', async () => {
    for (const args of [
      ['dlq', 'replay', '1', '--database', database],
      ['dlq', 'show', 'abc', '--database', database],
      ['dlq', 'list', '--since', 'yesterday', '--database', database],
      ['dlq', 'list', '--reason', 'BOGUS', '--database', database],
      ['dlq', 'list', '--bogus', '--database', database],
      ['dlq', 'list', '--database', 'mysql://x'],
    ]) {
      const run = await runConverge(args);
      expect({ args, code: run.code }).toEqual({ args, code: 2 });
      expect(run.stderr).not.toMatch(/\n\s+at /);
      expect(run.stdout).toBe('');
    }
  });
});
