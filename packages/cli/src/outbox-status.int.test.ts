/**
 * `converge outbox status` as a real process, on SQLite and PostgreSQL owner databases: the
 * backlog and `--max-age` as before, and one row per relay from its heartbeat (running, silent,
 * stopped), with exit 3 when messages wait and no relay runs, or a running relay keeps failing.
 * A killed relay is one whose heartbeat is old: its row is aged here, as the clock would.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ageRows } from '../../../test/support/age-rows.js';
import { availableBackends, sqliteBackend, type TestDatabases } from '../../../test/support/backends.js';
import {
  createOutbox,
  createRelay,
  createSqlLogTransport,
  type RelayHeartbeat,
  type Storage,
} from '../../core/src/index.js';
import { relayHeartbeat } from '../../core/src/testing/relay-heartbeat-fixture.js';
import { waitFor } from '../../core/src/testing/wait-for.js';
import { runConverge } from '../test/run-converge.js';

const backends = await availableBackends();
const RELAY_CHILD = fileURLToPath(new URL('../test/relay-child.mjs', import.meta.url));

interface Report {
  backlog: number;
  behind: boolean;
  leaseHolder: string | null;
  relays: {
    relayId: string;
    state: string;
    published: number;
    consecutiveFailures: number;
    stoppedAt: string | null;
  }[];
  problems: { code: string; message: string }[];
}

/** A running relay's heartbeat, with an interval no test sits out. */
const heartbeat = (relayId: string, fields: Partial<RelayHeartbeat> = {}): RelayHeartbeat =>
  relayHeartbeat(relayId, { heartbeatIntervalMs: 600_000, startedAt: new Date(), ...fields });

describe.each(backends)('converge outbox status on $name', (backend) => {
  let databases: TestDatabases;
  beforeAll(async () => {
    databases = (await backend.create())!;
    return () => databases.cleanup();
  });

  /** The owner database `name` with `messages` unpublished messages appended `appendedMsAgo` ago. */
  async function ownerDatabase(
    name: string,
    messages: number,
    appendedMsAgo = 0,
  ): Promise<{ storage: Storage; url: string }> {
    const storage = await databases.open(name);
    const outbox = createOutbox({ storage, source: 'customer-profile' });
    for (let i = 0; i < messages; i += 1) {
      await storage.transaction((tx) =>
        outbox.append(tx, [{ type: 'customer.unsubscribed', key: `c-${i}`, data: {} }]),
      );
    }
    // The outbox stamps rows with the database's clock; age them as if the relay had been down.
    await ageRows(backend, storage, { table: 'outbox', column: 'created_at', ms: appendedMsAgo });
    return { storage, url: databases.url(name) };
  }

  const status = async (url: string, ...flags: string[]) => {
    const run = await runConverge(['outbox', 'status', '--json', ...flags, '--database', url]);
    return { code: run.code, report: JSON.parse(run.stdout) as Report, stderr: run.stderr };
  };

  it('reports an empty outbox without relays as ok (exit 0)', async () => {
    const { url } = await ownerDatabase('empty', 0);
    const run = await runConverge(['outbox', 'status', '--database', url]);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('backlog                 0 unpublished message(s)');
    expect(run.stdout).toContain('relays                  none has reported a heartbeat');
    expect(run.stdout).toContain('ok: nothing has waited longer than 5m');
  });

  it('exits 3 when the oldest unpublished message waits longer than --max-age, even with a relay running', async () => {
    const { storage, url } = await ownerDatabase('behind', 3, 10 * 60_000);
    await storage.outbox.recordHeartbeat(heartbeat('relay-slow'));
    const { code, report } = await status(url, '--max-age', '2m');
    expect(code).toBe(3);
    expect(report).toMatchObject({ backlog: 3, publishedRetained: 0, maxAgeMs: 120_000, behind: true });
    expect((report as unknown as { oldestUnpublishedAgeMs: number }).oldestUnpublishedAgeMs).toBeGreaterThan(
      120_000,
    );
    expect(report.problems.map((p) => p.code)).toEqual(['OLDEST_TOO_OLD']);
    expect(report.relays.map((r) => [r.relayId, r.state])).toEqual([['relay-slow', 'running']]);
    const lenient = await status(url, '--max-age', '1h');
    expect(lenient.code).toBe(0);
    expect(lenient.report.problems).toEqual([]);
  });

  it('shows a running relay with what it published, as a table and as JSON; once stopped, as stopped', async () => {
    const { storage, url } = await ownerDatabase('running', 3);
    const relay = createRelay({
      storage,
      transport: createSqlLogTransport({ storage }),
      relayId: `relay-${backend.name}-1`,
      heartbeatIntervalMs: 50,
    });
    await relay.start();
    try {
      await waitFor(
        'a heartbeat counting the three messages',
        async () => (await storage.outbox.listRelays()).relays[0]?.published === 3,
        10_000,
      );
      const { code, report } = await status(url);
      expect(code).toBe(0);
      expect(report.backlog).toBe(0);
      expect(report.relays).toEqual([
        {
          relayId: relay.relayId,
          state: 'running',
          host: expect.any(String),
          pid: process.pid,
          startedAt: expect.any(String),
          heartbeatAt: expect.any(String),
          heartbeatAgeMs: expect.any(Number),
          heartbeatIntervalMs: 50,
          stoppedAt: null,
          published: 3,
          lastPublishedAt: expect.any(String),
          lastPublishedAgeMs: expect.any(Number),
          consecutiveFailures: 0,
          lastError: null,
          lastErrorAt: null,
          holdsLease: storage.capabilities.skipLocked ? null : true,
        },
      ]);
      expect(report.leaseHolder).toBe(storage.capabilities.skipLocked ? null : relay.relayId);
      const text = await runConverge(['outbox', 'status', '--database', url]);
      expect(text.stdout).toContain('1 running, 0 silent, 0 stopped');
      expect(text.stdout).toMatch(new RegExp(`^${relay.relayId} +running +\\S+:${process.pid} .* 3 `, 'm'));
    } finally {
      await relay.stop();
    }
    const { code, report } = await status(url);
    expect(code).toBe(0);
    expect(report.relays.map((r) => [r.relayId, r.state, r.published])).toEqual([
      [relay.relayId, 'stopped', 3],
    ]);
    expect(report.leaseHolder).toBeNull();
  });

  it('shows a relay whose heartbeat is old as silent; with messages waiting and no relay running, exits 3', async () => {
    const { storage, url } = await ownerDatabase('silent', 0);
    await storage.outbox.recordHeartbeat(heartbeat('relay-killed', { heartbeatIntervalMs: 5_000 }));
    await storage.outbox.recordHeartbeat(heartbeat('relay-stopped', { stopped: true }));
    await ageRows(backend, storage, {
      table: 'relay',
      column: 'heartbeat_at',
      ms: 16_000,
      relayId: 'relay-killed',
    });
    const idle = await status(url);
    expect(idle.code).toBe(0);
    expect(idle.report.relays.map((r) => [r.relayId, r.state]).sort()).toEqual([
      ['relay-killed', 'silent'],
      ['relay-stopped', 'stopped'],
    ]);

    await storage.transaction((tx) =>
      createOutbox({ storage, source: 'customer-profile' }).append(tx, [
        { type: 'customer.unsubscribed', key: 'c-1', data: {} },
      ]),
    );
    const { code, report } = await status(url);
    expect(code).toBe(3);
    expect(report.behind).toBe(false);
    expect(report.problems.map((p) => p.code)).toEqual(['NO_RELAY_RUNNING']);
    const text = await runConverge(['outbox', 'status', '--database', url]);
    expect(text.code).toBe(3);
    expect(text.stdout).toContain('PROBLEM: 1 message(s) wait and no relay is running');
  });

  it('shows a relay process killed with SIGKILL as silent once its heartbeat is three intervals old', async () => {
    const { storage, url } = await ownerDatabase('killed', 0);
    const relayId = `relay-${backend.name}-killed`;
    const child = spawn(process.execPath, [RELAY_CHILD], {
      env: { ...process.env, DATABASE_URL: url, RELAY_ID: relayId, HEARTBEAT_INTERVAL_MS: '100' },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const exited = new Promise((resolve) => child.once('exit', resolve));
    try {
      await waitFor(
        'the relay process to report in',
        async () => (await storage.outbox.listRelays()).relays.some((r) => r.relayId === relayId),
        10_000,
      );
      const running = await status(url);
      expect(running.report.relays).toMatchObject([{ relayId, state: 'running', pid: child.pid }]);
    } finally {
      child.kill('SIGKILL');
      await exited;
    }
    await storage.transaction((tx) =>
      createOutbox({ storage, source: 'customer-profile' }).append(tx, [
        { type: 'customer.unsubscribed', key: 'c-1', data: {} },
      ]),
    );
    const silent = (await waitFor(
      'the killed relay to turn silent',
      async () => {
        const run = await status(url);
        return run.report.relays[0]?.state === 'silent' ? run : null;
      },
      10_000,
    ))!;
    expect(silent.report.relays).toMatchObject([{ relayId, state: 'silent', stoppedAt: null }]);
    expect(silent.code).toBe(3);
    expect(silent.report.problems.map((p) => p.code)).toEqual(['NO_RELAY_RUNNING']);
  });

  it('exits 3 when a running relay has failed --max-failures times in a row (default 10), naming its error', async () => {
    const { storage, url } = await ownerDatabase('failing', 1);
    await storage.outbox.recordHeartbeat(
      heartbeat('relay-failing', {
        consecutiveFailures: 10,
        lastError: 'Error: connect ECONNREFUSED 127.0.0.1:4222',
        lastErrorAt: new Date(),
      }),
    );
    const { code, report } = await status(url);
    expect(code).toBe(3);
    expect(report.problems).toEqual([
      {
        code: 'RELAY_FAILING',
        message: expect.stringContaining(
          'relay relay-failing has failed 10 times in a row (limit 10): Error: connect ECONNREFUSED 127.0.0.1:4222',
        ),
      },
    ]);
    expect((await status(url, '--max-failures', '11')).code).toBe(0);
  });
});

describe('converge outbox status: bad flags', () => {
  let databases: TestDatabases;
  let url = '';
  beforeAll(async () => {
    databases = (await sqliteBackend.create())!;
    await databases.open('flags');
    url = databases.url('flags');
  });
  afterAll(() => databases.cleanup());

  it('refuses a malformed --max-age or --max-failures with exit 2 and a remedy', async () => {
    const age = await runConverge(['outbox', 'status', '--max-age', 'soon', '--database', url]);
    expect(age.code).toBe(2);
    expect(age.stderr).toContain("--max-age 'soon' is not a duration");
    const failures = await runConverge(['outbox', 'status', '--max-failures', '0', '--database', url]);
    expect(failures.code).toBe(2);
    expect(failures.stderr).toContain(
      "--max-failures '0' is not a positive whole number; use e.g. --max-failures 10.",
    );
  });
});
