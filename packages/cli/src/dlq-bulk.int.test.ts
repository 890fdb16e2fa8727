/**
 * `converge dlq replay|archive --filter …` as a real process: per-item results, dry runs, the
 * confirmation a bulk action needs, and usage errors. Each test gets a fresh SQLite file.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import type { DeadLetter } from '../../core/src/index.js';
import { createSqliteStorage } from '../../core/src/storage/sqlite/index.js';
import { deadLetter } from '../test/dead-letter-fixture.js';
import { runConverge, runConvergeOnTerminal, terminalAvailable } from '../test/run-converge.js';

const dir = mkdtempSync(join(tmpdir(), 'converge-dlq-bulk-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const exhausted: Partial<DeadLetter> = { reason: 'HANDLER_RETRIES_EXHAUSTED', fingerprint: 'f-redis' };
let database = '';
let files = 0;

/** Dead letters 1–5: 1–3 billing retries exhausted (3 without a key), 4 contract, 5 terminal. */
beforeEach(async () => {
  files += 1;
  const file = join(dir, `consumer-${files}.db`);
  database = `sqlite:${file}`;
  const storage = createSqliteStorage({ path: file });
  await storage.migrate();
  await storage.transaction(async (tx) => {
    await storage.inbox.addDeadLetter(tx, deadLetter(1, exhausted));
    await storage.inbox.addDeadLetter(tx, deadLetter(2, exhausted));
    await storage.inbox.addDeadLetter(tx, deadLetter(3, { ...exhausted, messageId: null, key: null }));
    await storage.inbox.addDeadLetter(tx, deadLetter(4, { ...exhausted, consumer: 'support-contract' }));
    await storage.inbox.addDeadLetter(tx, deadLetter(5));
  });
  await storage.close();
});

const statuses = async () => {
  const run = await runConverge(['dlq', 'list', '--json', '--database', database]);
  return (JSON.parse(run.stdout) as { deadLetters: { id: number; status: string }[] }).deadLetters.map(
    (letter) => `${letter.id}:${letter.status}`,
  );
};
const allOpen = ['1:open', '2:open', '3:open', '4:open', '5:open'];

describe('converge dlq replay --filter', () => {
  it('acts per item: the matches are requested, an unreplayable match conflicts (exit 5), the rest is untouched', async () => {
    const run = await runConverge([
      'dlq',
      'replay',
      '--filter',
      'reason=HANDLER_RETRIES_EXHAUSTED',
      '--filter',
      'consumer=billing',
      '--reason',
      'redis is back (INC-7)',
      '--yes',
      '--json',
      '--database',
      database,
    ]);
    expect(run.code).toBe(5);
    expect(JSON.parse(run.stdout)).toEqual({
      dryRun: false,
      replaying: [1, 2],
      results: [
        { id: 1, consumer: 'billing', type: 'customer.unsubscribed', key: 'customer-1', result: 'replaying' },
        { id: 2, consumer: 'billing', type: 'customer.unsubscribed', key: 'customer-2', result: 'replaying' },
        {
          id: 3,
          consumer: 'billing',
          type: 'customer.unsubscribed',
          key: null,
          result: 'conflict',
          code: 'DEAD_LETTER_NOT_REPLAYABLE',
          message: expect.stringContaining('archive it instead'),
        },
      ],
    });
    expect(await statuses()).toEqual(['1:replaying', '2:replaying', '3:open', '4:open', '5:open']);
  });

  it('selects by fingerprint, paced by --rate, and prints a table with a summary', async () => {
    const run = await runConverge([
      'dlq',
      'replay',
      '--filter',
      'fingerprint=f-redis',
      '--filter',
      'since=1h',
      '--rate',
      '1000/s',
      '--reason',
      'redis is back',
      '--yes',
      '--database',
      database,
    ]);
    expect(run.code).toBe(5);
    expect(run.stdout.split('\n')[0]).toMatch(/^ID\s+CONSUMER\s+TYPE\s+KEY\s+RESULT\s+DETAIL$/);
    expect(run.stdout).toMatch(/^4\s+support-contract\s+customer\.unsubscribed\s+customer-4\s+replaying$/m);
    expect(run.stdout).toContain('Asked for the replay of 3 dead letter(s): 1, 2, 4.');
    expect(run.stdout).toContain('1 conflict(s) and 0 failure(s): see DETAIL');
    expect(await statuses()).toEqual(['1:replaying', '2:replaying', '3:open', '4:replaying', '5:open']);
  });

  it('--dry-run lists what would be replayed and changes nothing (no --reason or --yes needed)', async () => {
    const run = await runConverge([
      'dlq',
      'replay',
      '--filter',
      'consumer=billing',
      '--dry-run',
      '--database',
      database,
    ]);
    expect(run.code).toBe(5);
    expect(run.stdout).toMatch(/^1\s+billing\s+.*would-replay$/m);
    expect(run.stdout).toMatch(/^3\s+billing\s+.*conflict\s+Dead letter 3 .*archive it instead/m);
    expect(run.stdout).toContain(
      'Dry run: 3 dead letter(s) would be replayed: 1, 2, 5; nothing was changed.',
    );
    expect(await statuses()).toEqual(allOpen);

    const json = await runConverge([
      'dlq',
      'replay',
      '--filter',
      'reason=HANDLER_TERMINAL_ERROR',
      '--dry-run',
      '--json',
      '--database',
      database,
    ]);
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toMatchObject({ dryRun: true, 'would-replay': [5] });
    expect(await statuses()).toEqual(allOpen);
  });

  it('exits 0 with nothing to do when no open dead letter matches', async () => {
    const run = await runConverge([
      'dlq',
      'replay',
      '--filter',
      'key=nobody',
      '--reason',
      'x',
      '--database',
      database,
    ]);
    expect(run).toMatchObject({ code: 0, stdout: 'No open dead letters match; nothing was changed.\n' });
  });
});

describe('a bulk action off a terminal', () => {
  it('is refused without --yes (exit 2, one line with the remedy), changing nothing; a single id needs no --yes', async () => {
    for (const args of [
      ['dlq', 'replay', '--filter', 'consumer=billing', '--reason', 'x'],
      ['dlq', 'replay', '1', '2', '--reason', 'x'],
      ['dlq', 'archive', '--filter', 'reason=HANDLER_TERMINAL_ERROR', '--reason', 'x'],
      ['dlq', 'archive', '4', '5', '--reason', 'x'],
    ]) {
      const run = await runConverge([...args, '--database', database]);
      expect({ args, code: run.code, stdout: run.stdout }).toEqual({ args, code: 2, stdout: '' });
      expect(run.stderr).toMatch(
        /^converge: Refusing to (replay|archive) \d dead letter\(s\) without confirmation: stdin or stdout is not a terminal\. Pass --yes to go ahead, or --dry-run to list them first\.\n$/,
      );
    }
    expect(await statuses()).toEqual(allOpen);

    const single = await runConverge(['dlq', 'replay', '1', '--reason', 'x', '--database', database]);
    expect(single.code).toBe(0);
    expect(await statuses()).toEqual(['1:replaying', '2:open', '3:open', '4:open', '5:open']);
  });

  it('still checks ids first: an unknown id exits 4 before any confirmation', async () => {
    const run = await runConverge(['dlq', 'replay', '1', '999', '--reason', 'x', '--database', database]);
    expect(run.code).toBe(4);
    expect(await statuses()).toEqual(allOpen);
  });

  it('archive --filter --yes archives each match and reports it as JSON', async () => {
    const run = await runConverge([
      'dlq',
      'archive',
      '--filter',
      'consumer=support-contract',
      '--reason',
      'contract service retired',
      '--yes',
      '--json',
      '--database',
      database,
    ]);
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toEqual({
      dryRun: false,
      archived: [4],
      results: [
        {
          id: 4,
          consumer: 'support-contract',
          type: 'customer.unsubscribed',
          key: 'customer-4',
          result: 'archived',
        },
      ],
    });
    expect(await statuses()).toEqual(['1:open', '2:open', '3:open', '4:archived', '5:open']);
  });
});

describe.skipIf(!terminalAvailable)('a bulk action on a terminal', () => {
  it('asks first: yes replays with a progress bar on the screen, no changes nothing (exit 1)', async () => {
    const args = ['dlq', 'replay', '--filter', 'fingerprint=f-redis', '--filter', 'consumer=billing'];
    const declined = await runConvergeOnTerminal([...args, '--reason', 'x', '--database', database], 'n\n');
    expect(declined.code).toBe(1);
    expect(declined.stdout).toContain('Replay 3 dead letter(s)? [y/N]');
    expect(declined.stdout).toContain('Nothing was changed: the replay was not confirmed.');
    expect(await statuses()).toEqual(allOpen);

    const confirmed = await runConvergeOnTerminal([...args, '--reason', 'x', '--database', database], 'y\n');
    expect(confirmed.stdout).toMatch(/Replay \[[=-]+\] 0\/3 0%/);
    expect(confirmed.stdout).toContain('Asked for the replay of 2 dead letter(s): 1, 2.');
    expect(confirmed.code).toBe(5);
    expect(await statuses()).toEqual(['1:replaying', '2:replaying', '3:open', '4:open', '5:open']);
  });
});

describe('bad bulk command lines', () => {
  it('exit 2 with one line naming the problem and the fix, before touching the database', async () => {
    for (const args of [
      ['dlq', 'replay', '1', '--filter', 'consumer=billing', '--reason', 'x'],
      ['dlq', 'replay', '--reason', 'x'],
      ['dlq', 'replay', '--filter', 'status=open', '--reason', 'x'],
      ['dlq', 'replay', '--filter', 'consumer', '--reason', 'x'],
      ['dlq', 'replay', '--filter', 'consumer=a', '--filter', 'consumer=b', '--reason', 'x'],
      ['dlq', 'replay', '--filter', 'reason=BOGUS', '--reason', 'x'],
      ['dlq', 'replay', '--filter', 'since=yesterday', '--reason', 'x'],
      ['dlq', 'replay', '--filter', 'consumer=billing'],
      ['dlq', 'replay', '--filter', 'consumer=billing', '--rate', 'fast', '--reason', 'x'],
      ['dlq', 'replay', '--filter', 'consumer=billing', '--rate', '0/s', '--reason', 'x'],
      ['dlq', 'replay', '1', '--rate', '5/s', '--reason', 'x'],
      ['dlq', 'archive', '--filter', 'consumer=billing', '--rate', '5/s', '--reason', 'x'],
    ]) {
      const run = await runConverge([...args, '--database', database]);
      expect({ args, code: run.code, stdout: run.stdout }).toEqual({ args, code: 2, stdout: '' });
      const lines = run.stderr.trimEnd().split('\n');
      expect({ args, lines: lines.length }).toEqual({ args, lines: args.includes('archive') ? 2 : 1 });
      expect(run.stderr).not.toMatch(/\n\s+at /);
    }
    expect(await statuses()).toEqual(allOpen);
  });
});
