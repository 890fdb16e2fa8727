/**
 * `converge saga markers` as a real process, on SQLite and PostgreSQL participant databases holding
 * pending markers written the way a participant writes them (`storage.pendingMarkers.mark` in its
 * transaction): what an operator relies on after cancelling a saga — the saga's markers are listed
 * and, with --clear, removed, and no other saga's marker is touched.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { availableBackends, type TestDatabases } from '../../../test/support/backends.js';
import { newMessageId, type Storage } from '../../core/src/index.js';
import { runConverge } from '../test/run-converge.js';

const backends = await availableBackends();

describe.each(backends)('converge saga markers on $name', (backend) => {
  let databases: TestDatabases;
  let storage: Storage;
  let database: string;
  const cancelled = newMessageId();
  const other = newMessageId();

  beforeAll(async () => {
    databases = (await backend.create())!;
    storage = await databases.open('profile');
    database = databases.url('profile');
    const at = new Date('2026-12-02T10:00:00.000Z');
    await storage.transaction(async (tx) => {
      for (const [key, step] of [
        ['c-1', 'profile'],
        ['c-2', 'profile'],
        ['c-3', 'settle'],
      ] as const)
        await storage.pendingMarkers.mark(tx, { resource: 'customer', key, sagaId: cancelled, step }, at);
      await storage.pendingMarkers.mark(
        tx,
        { resource: 'customer', key: 'c-9', sagaId: other, step: 'profile' },
        at,
      );
    });
    return () => databases.cleanup();
  });

  const converge = (args: readonly string[]) => runConverge([...args, '--database', database]);

  it("lists the saga's markers, and only one step's with --step", async () => {
    const all = await converge(['saga', 'markers', cancelled]);
    expect(all.code).toBe(0);
    expect(all.stdout).toMatch(/RESOURCE\s+KEY\s+STEP\s+SINCE/);
    for (const key of ['c-1', 'c-2', 'c-3']) expect(all.stdout).toContain(key);
    expect(all.stdout).not.toContain('c-9');

    const one = await converge(['saga', 'markers', cancelled, '--step', 'settle', '--json']);
    expect(one.code).toBe(0);
    expect(JSON.parse(one.stdout).markers).toEqual([
      {
        resource: 'customer',
        key: 'c-3',
        sagaId: cancelled,
        step: 'settle',
        since: '2026-12-02T10:00:00.000Z',
      },
    ]);
  });

  it("clears the saga's markers in one go, leaving other sagas' markers", async () => {
    const cleared = await converge(['saga', 'markers', cancelled, '--clear']);
    expect(cleared.code).toBe(0);
    expect(cleared.stdout).toContain(`Cleared 3 pending markers of saga ${cancelled}`);

    expect(await storage.pendingMarkers.get({ resource: 'customer', key: 'c-1' })).toBeUndefined();
    expect(await storage.pendingMarkers.get({ resource: 'customer', key: 'c-9' })).toMatchObject({
      sagaId: other,
    });
    const after = await converge(['saga', 'markers', cancelled]);
    expect(after.stdout).toContain(`No pending markers of saga ${cancelled}`);
  });

  it('refuses an id that is not a saga id, with exit 2, before opening the database', async () => {
    const run = await converge(['saga', 'markers', 'not-an-id', '--clear']);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain("'not-an-id' is not a saga id");
  });
});
