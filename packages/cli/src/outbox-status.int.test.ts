/** `converge outbox status` as a real process, on a SQLite owner database. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createOutbox } from '../../core/src/index.js';
import { createSqliteStorage } from '../../core/src/storage/sqlite/index.js';
import { runConverge } from '../test/run-converge.js';

const dir = mkdtempSync(join(tmpdir(), 'converge-outbox-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function ownerDatabase(name: string, messages: number, appendedMsAgo: number): Promise<string> {
  const file = join(dir, `${name}.db`);
  const storage = createSqliteStorage({ path: file });
  await storage.migrate();
  const outbox = createOutbox({
    storage,
    source: 'customer-profile',
    now: () => new Date(Date.now() - appendedMsAgo),
  });
  for (let i = 0; i < messages; i += 1) {
    await storage.transaction((tx) =>
      outbox.append(tx, [{ type: 'customer.unsubscribed', key: `c-${i}`, data: {} }]),
    );
  }
  // The outbox stamps rows with the database's clock; age them as if the relay had been down.
  await storage.transaction((tx) =>
    tx.execute('UPDATE converge_outbox SET created_at = created_at - ?', [appendedMsAgo]),
  );
  await storage.close();
  return `sqlite:${file}`;
}

describe('converge outbox status', () => {
  it('reports an empty outbox as ok (exit 0)', async () => {
    const database = await ownerDatabase('empty', 0, 0);
    const run = await runConverge(['outbox', 'status', '--database', database]);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('backlog                 0 unpublished message(s)');
    expect(run.stdout).toContain('ok: nothing has waited longer than 5m');
  });

  it('exits 3 when the oldest unpublished message waits longer than --max-age, with the figures as JSON', async () => {
    const database = await ownerDatabase('behind', 3, 10 * 60_000);
    const run = await runConverge(['outbox', 'status', '--max-age', '2m', '--json', '--database', database]);
    expect(run.code).toBe(3);
    const report = JSON.parse(run.stdout);
    expect(report).toMatchObject({ backlog: 3, publishedRetained: 0, maxAgeMs: 120_000, behind: true });
    expect(report.oldestUnpublishedAgeMs).toBeGreaterThan(120_000);
    const lenient = await runConverge(['outbox', 'status', '--max-age', '1h', '--database', database]);
    expect(lenient.code).toBe(0);
  });

  it('refuses a malformed --max-age with exit 2', async () => {
    const database = await ownerDatabase('bad-flag', 0, 0);
    const run = await runConverge(['outbox', 'status', '--max-age', 'soon', '--database', database]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain("--max-age 'soon' is not a duration");
  });
});
