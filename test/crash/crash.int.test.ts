/**
 * Crash safety with real processes. The producer, the relay and the consumer run as child
 * processes and are killed with SIGKILL at the named fault points (after the business commit,
 * after publishing before marking, after the handler's commit before the transport ack) and at
 * random moments, and restarted each time. Afterwards: every committed business change took
 * effect in the consumer exactly once, and each key's effects are in sequence order.
 *
 * Quick tier (CI): ≈10,000 messages over 1,000 keys, ≥ 20 kills. Full tier:
 * `npm run test:full` (CONVERGE_CRASH_TIER=full): 100,000 messages, ≥ 200 kills.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { FaultPoint } from '../../packages/core/src/index.js';
import { availableBackends, type Backend, type TestDatabases } from '../support/backends.js';
import { type ChildSpec, Supervisor, sleep } from './supervisor.js';

const FULL = process.env.CONVERGE_CRASH_TIER === 'full';
const TIER = FULL
  ? { messages: 100_000, keys: 5_000, faultKillsPerPoint: 40, randomKills: 100, limitMs: 20 * 60_000 }
  : { messages: 10_000, keys: 1_000, faultKillsPerPoint: 4, randomKills: 12, limitMs: 3 * 60_000 };
const MIN_KILLS = FULL ? 200 : 20;

const backends = await availableBackends();

/** Schema of the test's own business tables, per dialect. */
function businessTables(backend: Backend) {
  const serial = backend.name === 'postgres' ? 'BIGSERIAL PRIMARY KEY' : 'INTEGER PRIMARY KEY AUTOINCREMENT';
  return {
    producer: 'CREATE TABLE produced (i INTEGER PRIMARY KEY, customer TEXT NOT NULL)',
    consumer: `CREATE TABLE effect (n ${serial}, message_id TEXT NOT NULL, key TEXT NOT NULL, sequence INTEGER NOT NULL, i INTEGER NOT NULL)`,
  };
}

/** The fault points of this pipeline (the participant's and the orchestrator's have their own tests). */
const PIPELINE_POINTS: readonly FaultPoint[] = [
  FaultPoint.AFTER_BUSINESS_COMMIT,
  FaultPoint.AFTER_PUBLISH_BEFORE_MARK,
  FaultPoint.AFTER_HANDLER_COMMIT_BEFORE_ACK,
];

/** `count` random `n`s in 1..`max`: the reach at which each planned incarnation dies. */
const plan = (count: number, max: number) =>
  Array.from({ length: count }, () => 1 + Math.floor(Math.random() * max));

describe.each(backends)('crash safety on $name', (backend) => {
  let databases: TestDatabases | null = null;
  let supervisor: Supervisor | null = null;
  let workDir = '';

  afterEach(async (context) => {
    await supervisor?.stopAll();
    await databases?.cleanup();
    if (workDir === '') return;
    // A failed run keeps its supervisor log (every kill, restart and child's last words) to explain itself.
    if (context.task.result?.state === 'fail')
      process.stderr.write(`crash test failed: its log is kept in ${join(workDir, 'crash.log')}\n`);
    else rmSync(workDir, { recursive: true, force: true });
    workDir = '';
  });

  it(
    `applies every committed message exactly once and in per-key order while producer, relay and consumer are SIGKILLed (${TIER.messages} messages, ${TIER.keys} keys)`,
    async () => {
      databases = (await backend.create())!;
      workDir = mkdtempSync(join(tmpdir(), 'converge-crash-'));
      const tables = businessTables(backend);
      const producerDb = await databases.open('producer');
      const brokerDb = await databases.open('broker');
      const consumerDb = await databases.open('consumer');
      await producerDb.transaction((tx) => tx.execute(tables.producer));
      await consumerDb.transaction((tx) => tx.execute(tables.consumer));

      const urls = {
        PRODUCER_URL: databases.url('producer'),
        BROKER_URL: databases.url('broker'),
        CONSUMER_URL: databases.url('consumer'),
      };
      const k = TIER.faultKillsPerPoint;
      const specs: ChildSpec[] = [
        {
          role: 'producer',
          env: { ...urls, TOTAL: String(TIER.messages), KEYS: String(TIER.keys) },
          faultPoint: FaultPoint.AFTER_BUSINESS_COMMIT,
          plannedFaults: plan(k, 300),
        },
        {
          role: 'relay',
          env: urls,
          faultPoint: FaultPoint.AFTER_PUBLISH_BEFORE_MARK,
          plannedFaults: plan(k, 5),
        },
        {
          role: 'consumer',
          env: urls,
          faultPoint: FaultPoint.AFTER_HANDLER_COMMIT_BEFORE_ACK,
          // Within a few batches: under frequent random kills a consumer incarnation may not live for ten.
          plannedFaults: plan(k, 3),
        },
      ];
      supervisor = new Supervisor(specs, join(workDir, 'crash.log'));
      const running = supervisor;
      running.startAll();

      const everyPointHit = () =>
        PIPELINE_POINTS.every((point) => (running.kills().atFaultPoint[point] ?? 0) > 0);
      await running.randomKills({
        minMs: 150,
        maxMs: 600,
        minAgeMs: 500,
        limitMs: TIER.limitMs,
        enough: () =>
          running.kills().total >= MIN_KILLS &&
          running.kills().random.relay + running.kills().random.consumer > 0 &&
          everyPointHit(),
      });
      running.endChaos();

      // Let the restarted relay and consumer finish the work, without faults.
      const applied = async () =>
        Number(
          (
            await consumerDb.transaction((tx) =>
              tx.query<{ n: number | string }>('SELECT COUNT(DISTINCT message_id) AS n FROM effect'),
            )
          )[0]!.n,
        );
      const deadline = Date.now() + TIER.limitMs;
      while (running.failures.length === 0 && Date.now() < deadline) {
        if (running.producerDone && (await applied()) >= TIER.messages) break;
        await sleep(200);
      }
      await sleep(500); // room for a late duplicate effect to show, if there were one
      await running.stopAll();
      expect(running.failures).toEqual([]);

      const produced = await producerDb.transaction((tx) =>
        tx.query<{ i: number | string }>('SELECT i FROM produced'),
      );
      const effects = (
        await consumerDb.transaction((tx) =>
          tx.query<{ message_id: string; key: string; sequence: number | string; i: number | string }>(
            'SELECT message_id, key, sequence, i FROM effect ORDER BY n',
          ),
        )
      ).map((e) => ({ id: e.message_id, key: e.key, sequence: Number(e.sequence), i: Number(e.i) }));
      const [logged] = await brokerDb.transaction((tx) =>
        tx.query<{ all: number | string; distinct: number | string }>(
          'SELECT COUNT(*) AS "all", COUNT(DISTINCT message_id) AS "distinct" FROM converge_log'.replace(
            'converge_log',
            backend.name === 'postgres' ? 'converge.log' : 'converge_log',
          ),
        ),
      );

      const appliedIs = new Set(effects.map((e) => e.i));
      const lost = produced.filter((row) => !appliedIs.has(Number(row.i))).length;
      const duplicateEffects = effects.length - new Set(effects.map((e) => e.id)).size;
      const lastSequence = new Map<string, number>();
      let orderViolations = 0;
      for (const effect of effects) {
        if (effect.sequence !== (lastSequence.get(effect.key) ?? 0) + 1) orderViolations += 1;
        lastSequence.set(effect.key, effect.sequence);
      }
      const kills = running.kills();
      const report = {
        backend: backend.name,
        messages: produced.length,
        keys: lastSequence.size,
        kills,
        lost,
        duplicateEffects,
        orderViolations,
        duplicateDeliveries: {
          republishedByRelay: Number(logged!.all) - Number(logged!.distinct),
          redeliveredBatchesAfterConsumerKill:
            (kills.atFaultPoint[FaultPoint.AFTER_HANDLER_COMMIT_BEFORE_ACK] ?? 0) + kills.random.consumer,
        },
      };
      console.log(`crash report: ${JSON.stringify(report)}`);

      expect(produced.length).toBe(TIER.messages);
      expect(lastSequence.size).toBeGreaterThanOrEqual(TIER.keys);
      expect(kills.total).toBeGreaterThanOrEqual(MIN_KILLS);
      for (const point of PIPELINE_POINTS) expect(kills.atFaultPoint[point] ?? 0).toBeGreaterThan(0);
      expect({ lost, duplicateEffects, orderViolations }).toEqual({
        lost: 0,
        duplicateEffects: 0,
        orderViolations: 0,
      });
      // The kills after publishing and before marking must have made the relay publish again:
      // proof that the consumer saw duplicates and absorbed them.
      expect(report.duplicateDeliveries.republishedByRelay).toBeGreaterThan(0);
    },
    TIER.limitMs * 2 + 60_000,
  );
});
