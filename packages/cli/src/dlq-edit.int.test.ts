/**
 * `converge dlq edit` as a real process, on SQLite and PostgreSQL: the data is replaced (the other
 * attributes kept), both sha256 are audited and the dead letter moves to `replaying`; bad input
 * exits with the documented codes and one line. (That the consumer then replays the edited
 * message once is tested in test/dead-letter-edit.int.test.ts.)
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { availableBackends, type TestDatabases } from '../../../test/support/backends.js';
import { deadLetter } from '../test/dead-letter-fixture.js';
import { runConverge } from '../test/run-converge.js';

const backends = await availableBackends();
const dir = mkdtempSync(join(tmpdir(), 'converge-dlq-edit-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const sha256 = (text: string) => createHash('sha256').update(text, 'utf8').digest('hex');

describe.each(backends)('converge dlq edit on $name', (backend) => {
  let databases: TestDatabases;
  let database = '';
  beforeAll(async () => {
    databases = (await backend.create())!;
    const storage = await databases.open('billing');
    database = databases.url('billing');
    await storage.transaction(async (tx) => {
      await storage.inbox.addDeadLetter(tx, deadLetter(1));
      await storage.inbox.addDeadLetter(tx, deadLetter(2));
      await storage.inbox.addDeadLetter(tx, deadLetter(3, { bodyTruncated: true, bodyBytes: 400_000 }));
      await storage.inbox.addDeadLetter(tx, deadLetter(4));
      await storage.inbox.transitionDeadLetter(tx, 2, ['open'], 'replaying', {
        actor: 'bob',
        action: 'replay-requested',
        detail: 'x',
      });
    });
    return () => databases.cleanup();
  });
  const show = async (id: number) =>
    JSON.parse((await runConverge(['dlq', 'show', String(id), '--json', '--database', database])).stdout) as {
      deadLetter: { status: string; body: string; bodySha256: string };
      audit: { actor: string; action: string; detail: string }[];
    };

  it('replaces the data from @file, keeps the other attributes, audits both sha256 and asks for the replay', async () => {
    const before = await show(1);
    writeFileSync(join(dir, `fixed-${backend.name}.json`), '{"customerId": "customer-1b"}\n');
    const run = await runConverge(
      [
        'dlq',
        'edit',
        '1',
        '--data',
        `@fixed-${backend.name}.json`,
        '--reason',
        'customer id had a typo (INC-43)',
        '--actor',
        'alice',
        '--json',
        '--database',
        database,
      ],
      {},
      { cwd: dir },
    );
    expect(run).toMatchObject({ code: 0, stderr: '' });
    const after = await show(1);
    expect(JSON.parse(run.stdout)).toEqual({
      dryRun: false,
      id: 1,
      status: 'replaying',
      previousSha256: before.deadLetter.bodySha256,
      sha256: sha256(after.deadLetter.body),
      body: after.deadLetter.body,
    });
    const { data: newData, ...newAttributes } = JSON.parse(after.deadLetter.body) as Record<string, unknown>;
    const { data: oldData, ...oldAttributes } = JSON.parse(before.deadLetter.body) as Record<string, unknown>;
    expect([oldData, newData]).toEqual([{ customerId: 'customer-1' }, { customerId: 'customer-1b' }]);
    expect(newAttributes).toEqual(oldAttributes);
    expect(after.deadLetter).toMatchObject({
      status: 'replaying',
      bodySha256: sha256(after.deadLetter.body),
    });
    expect(after.audit.slice(1)).toEqual([
      {
        at: expect.any(String),
        actor: 'alice',
        action: 'edited',
        detail: expect.stringContaining(
          `customer id had a typo (INC-43) (data replaced: sha256 ${before.deadLetter.bodySha256} -> ${after.deadLetter.bodySha256}`,
        ),
      },
      {
        at: expect.any(String),
        actor: 'alice',
        action: 'replay-requested',
        detail: 'customer id had a typo (INC-43)',
      },
    ]);
  });

  it('--dry-run with inline data prints the edited message and changes nothing', async () => {
    const before = await show(4);
    const run = await runConverge([
      'dlq',
      'edit',
      '4',
      '--data',
      '{"customerId":"customer-4b"}',
      '--reason',
      'check first',
      '--dry-run',
      '--database',
      database,
    ]);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('"data":{"customerId":"customer-4b"}');
    expect(run.stdout).toContain('Dry run: dead letter 4 would hold this message');
    expect(await show(4)).toEqual(before);
  });

  it('exits 4 for an unknown id, 5 for a letter not open or cut at the cap, 2 for bad data; one line each', async () => {
    const cases: [string[], number, string][] = [
      [['999', '--data', '{}'], 4, 'There is no dead letter 999'],
      [['2', '--data', '{}'], 5, 'is replaying, not open'],
      [['3', '--data', '{}'], 5, 'cannot be replayed as it was sent'],
      [['4', '--data', '{"customerId":'], 2, '--data is not valid JSON'],
      [['4', '--data', '@no-such-file.json'], 2, 'cannot be read (ENOENT)'],
      [['4', '--data', '{"__proto__":{"admin":true}}'], 2, 'the edited message would be refused'],
      [['4', '--data', '{"customerId":"customer-4"}'], 2, 'the same as its current data'],
      [['abc', '--data', '{}'], 2, 'is not a dead letter id'],
    ];
    for (const [args, code, message] of cases) {
      const run = await runConverge(['dlq', 'edit', ...args, '--reason', 'x', '--database', database]);
      expect({ args, code: run.code, stdout: run.stdout }).toEqual({ args, code, stdout: '' });
      expect(run.stderr).toMatch(/^converge: [^\n]+\n$/);
      expect(run.stderr).toContain(message);
    }
    const noReason = await runConverge(['dlq', 'edit', '4', '--data', '{}', '--database', database]);
    expect(noReason.code).toBe(2);
    expect(noReason.stderr).toContain("required option '--reason <text>' not specified");
    expect((await show(4)).deadLetter.status).toBe('open');
  });
});
