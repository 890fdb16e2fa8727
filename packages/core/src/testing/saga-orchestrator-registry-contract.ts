/**
 * Part of the `SagaStore` contract (see saga-store-contract.ts): which (name, version) pairs an
 * orchestrator claims, and the registry of live orchestrators that tells stranded sagas apart.
 */
import { describe, expect, it } from 'vitest';
import { newMessageId } from '../core/ids.js';
import type { OrchestratorHeartbeat, SagaStart, SagaStatus, SagaStore } from '../ports/saga-store.js';
import type { Storage } from '../ports/storage.js';

const T0 = Date.UTC(2031, 0, 1);
const at = (ms: number): Date => new Date(T0 + ms);

async function startSaga(sagas: SagaStore, name: string, version: number): Promise<string> {
  const start: SagaStart = {
    id: newMessageId(),
    name,
    version,
    input: {},
    snapshot: {},
    idempotencyKey: null,
    at: at(0),
  };
  return (await sagas.start(start)).record.id;
}

/** Records one transition to `status` under the claim's token. */
async function settle(sagas: SagaStore, id: string, fencingToken: number, status: SagaStatus): Promise<void> {
  const transition = { kind: 'step-succeeded', step: 's', attempt: 1, detail: null };
  const reason = status === 'needs-attention' ? 'stuck' : null;
  const write = { status, snapshot: {}, wakeAt: null, reason, at: at(10), transition };
  expect(await sagas.record(id, fencingToken, write)).toBe('recorded');
}

function heartbeat(overrides: Partial<OrchestratorHeartbeat>): OrchestratorHeartbeat {
  return {
    orchestratorId: 'orchestrator-a',
    host: 'host-a',
    pid: 4242,
    definitions: {},
    at: at(1_000),
    stoppedAt: null,
    ...overrides,
  };
}

/** Registers the orchestrator-registry part of the saga store contract. */
export function describeSagaOrchestratorRegistry(context: { readonly storage: Storage }): void {
  describe('orchestrators and definition versions', () => {
    it('claims only the (name, version) pairs given, and everything when none are given', async () => {
      const { sagas } = context.storage;
      const v1 = await startSaga(sagas, 'unsubscribe', 1);
      const v2 = await startSaga(sagas, 'unsubscribe', 2);
      const other = await startSaga(sagas, 'subscribe', 1);
      expect(await sagas.claim('none', 1_000, 10, at(0), {})).toEqual([]);
      expect(await sagas.claim('wrong', 1_000, 10, at(0), { unsubscribe: [3], subscribe: [2] })).toEqual([]);
      const claimed = await sagas.claim('v2', 1_000, 10, at(0), { unsubscribe: [2] });
      expect(claimed.map((c) => c.record.id)).toEqual([v2]);
      const rest = await sagas.claim('any', 1_000, 10, at(0));
      expect(rest.map((c) => c.record.id).sort()).toEqual([v1, other].sort());
    });

    it('lists as stranded the unfinished sagas whose version no live orchestrator registers', async () => {
      const { sagas } = context.storage;
      const v1 = await startSaga(sagas, 'unsubscribe', 1);
      const v2 = await startSaga(sagas, 'unsubscribe', 2);
      const finished = await startSaga(sagas, 'unsubscribe', 1);
      const [claim] = await sagas.claim('o', 1_000, 1, at(0), { unsubscribe: [1] });
      expect(claim?.record.id).toBe(v1);
      await settle(sagas, v1, claim!.fencingToken, 'needs-attention');
      const [done] = await sagas.claim('o', 1_000, 1, at(0), { unsubscribe: [1] });
      expect(done?.record.id).toBe(finished);
      await settle(sagas, finished, done!.fencingToken, 'completed');
      const stranded = async (aliveSince: number) =>
        (await sagas.listStranded(at(aliveSince), 10)).map((record) => record.id);

      expect(await stranded(0)).toEqual([v1, v2]); // no orchestrator at all
      await sagas.heartbeatOrchestrator(heartbeat({ definitions: { unsubscribe: [2] } }));
      expect(await stranded(500)).toEqual([v1]);
      await sagas.heartbeatOrchestrator(
        heartbeat({ orchestratorId: 'orchestrator-b', definitions: { unsubscribe: [1, 3], other: [1] } }),
      );
      expect(await stranded(500)).toEqual([]);
      // Silent since before `aliveSince`: no longer alive.
      expect(await stranded(1_001)).toEqual([v1, v2]);
      // A stopped orchestrator runs nothing.
      await sagas.heartbeatOrchestrator(
        heartbeat({
          orchestratorId: 'orchestrator-b',
          definitions: { unsubscribe: [1] },
          stoppedAt: at(1_000),
        }),
      );
      expect(await stranded(500)).toEqual([v1]);
      expect(await sagas.listStranded(at(0), 1)).toHaveLength(1);
    });

    it('a heartbeat deletes the rows of orchestrators silent for too long, the longest silent first, a bounded number, never its own', async () => {
      const { sagas } = context.storage;
      const gone = async (orchestratorId: string, ms: number, stopped: boolean) =>
        sagas.heartbeatOrchestrator(
          heartbeat({ orchestratorId, at: at(ms), stoppedAt: stopped ? at(ms) : null }),
        );
      expect(await gone('stopped-long-ago', 100, true)).toEqual([]);
      await gone('silent-long', 200, false);
      await gone('silent-later', 300, false);
      await gone('recent', 5_000, true);
      const me = (ms: number, prune?: { silentBefore: Date; limit: number }) =>
        sagas.heartbeatOrchestrator(
          heartbeat({ orchestratorId: 'me', at: at(ms), definitions: { unsubscribe: [1] } }),
          prune,
        );

      expect(await me(9_000)).toEqual([]);
      const silentBefore = at(1_000);
      expect((await me(10_000, { silentBefore, limit: 2 })).sort()).toEqual([
        'silent-long',
        'stopped-long-ago',
      ]);
      expect(await me(20_000, { silentBefore, limit: 2 })).toEqual(['silent-later']);
      expect(await me(30_000, { silentBefore, limit: 2 })).toEqual([]);
      // Everyone else silent before now: only 'recent' is left to delete; its own row stays and counts.
      expect(await me(40_000, { silentBefore: at(50_000), limit: 100 })).toEqual(['recent']);
      const saga = await startSaga(sagas, 'unsubscribe', 1);
      expect(await sagas.listStranded(at(40_000), 10)).toEqual([]);
      expect((await sagas.listStranded(at(40_001), 10)).map((record) => record.id)).toEqual([saga]);
    });
  });
}
