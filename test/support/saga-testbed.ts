/**
 * One orchestrator database and three participants (each with its own database and HTTP server)
 * for the orchestrator tests, on one backend; and the checks every test makes of what the
 * participants applied.
 */
import { expect } from 'vitest';
import {
  type SagaDefinition,
  type SagaRecord,
  type Storage,
  TERMINAL_SAGA_STATUSES,
} from '../../packages/core/src/index.js';
import { waitFor } from '../../packages/core/src/testing/wait-for.js';
import type { Backend, TestDatabases } from './backends.js';
import { type EffectRow, ordinal, type SagaParticipant, startParticipant } from './saga-participants.js';
import { STEPS, type TestSagaInput, type ThreeStepOptions, threeStepSaga } from './three-step-saga.js';

export interface SagaTestbed {
  readonly databases: TestDatabases;
  /** The orchestrating service's database. */
  readonly storage: Storage;
  readonly participants: readonly SagaParticipant[];
  saga(options?: ThreeStepOptions): SagaDefinition<TestSagaInput>;
  /** Every participant's effects, in the order they were applied. */
  effects(): Promise<EffectRow[]>;
  /** Waits (bounded) until every saga in `ids` is final; returns their records. */
  settled(ids: readonly string[], timeoutMs?: number): Promise<SagaRecord[]>;
  close(): Promise<void>;
}

export async function createSagaTestbed(backend: Backend): Promise<SagaTestbed> {
  const databases = (await backend.create())!;
  const storage = await databases.open('orchestrator');
  const counter = ordinal();
  const participants: SagaParticipant[] = [];
  for (const step of STEPS)
    participants.push(await startParticipant(step, await databases.open(step), backend, counter));
  return {
    databases,
    storage,
    participants,
    saga: (options) => threeStepSaga(participants, options),
    async effects() {
      const all = (await Promise.all(participants.map((p) => p.effects()))).flat();
      return all.sort((a, b) => a.n - b.n);
    },
    async settled(ids, timeoutMs = 30_000) {
      const records = await waitFor<SagaRecord[] | null>(
        `${ids.length} sagas to end`,
        async () => {
          const records = await Promise.all(ids.map((id) => storage.sagas.get(id)));
          return records.every((r) => r !== undefined && TERMINAL_SAGA_STATUSES.has(r.status))
            ? (records as SagaRecord[])
            : null;
        },
        timeoutMs,
        25,
      ).catch(async (error: Error) => {
        // Say where the unfinished sagas stand, so a failure explains itself.
        const stuck = [];
        for (const id of ids) {
          const record = await storage.sagas.get(id);
          if (record !== undefined && TERMINAL_SAGA_STATUSES.has(record.status)) continue;
          const log = await storage.sagas.transitions(id);
          const kinds = log.map(
            (t) => `${t.kind}${t.step ? ` ${t.step}#${t.attempt}` : ''}@${t.fencingToken}`,
          );
          stuck.push(`${id} ${record?.status} lease=${record?.leaseOwner}: ${kinds.join(', ')}`);
          if (stuck.length >= 5) break;
        }
        throw new Error(`${error.message}\n${stuck.join('\n')}`);
      });
      return records!;
    },
    async close() {
      for (const participant of participants) await participant.close();
      await databases.cleanup();
    },
  };
}

/**
 * What users rely on, for each saga: each participant's effect (and each compensation) applied
 * at most once; a completed saga applied every step and undid none; a compensated one undid
 * exactly the steps it applied, in reverse order, after the last effect (a failed step whose
 * outcome was unknown may also get its compensation: a no-op for the participant).
 */
export function expectEffectsOnce(effects: readonly EffectRow[], records: readonly SagaRecord[]): void {
  const keys = effects.map((e) => e.key);
  expect(keys.length - new Set(keys).size, 'duplicate effects').toBe(0);
  for (const record of records) {
    const mine = effects.filter((e) => e.sagaId === record.id);
    const applied = mine.filter((e) => e.kind === 'apply').map((e) => e.step);
    const undone = mine.filter((e) => e.kind === 'undo').map((e) => e.step);
    if (record.status === 'completed') {
      expect({ applied, undone }).toEqual({ applied: [...STEPS], undone: [] });
    } else {
      expect(record.status).toBe('compensated');
      const expected = [...applied].reverse();
      // A compensation may also run for a failed step whose last outcome was unknown (no-op).
      expect(undone.filter((step) => applied.includes(step))).toEqual(expected);
      const firstUndo = mine.findIndex((e) => e.kind === 'undo');
      expect(
        mine.slice(firstUndo).every((e) => e.kind === 'undo'),
        'undoing began after the last effect',
      ).toBe(true);
    }
  }
}
