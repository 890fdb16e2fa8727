/**
 * Sagas whose participant calls are command messages over the transport, answered by reply
 * messages (`commandCall` + `createCommandChannel` on the orchestrator's side, `commandHandler`
 * on the participant's), on real databases and a real SQL-log transport: what a user relies on —
 * the saga ends completed or compensated, each effect applied once however often a command is
 * sent, a refusal compensates, a failure retries, a participant that is away is waited for, and a
 * reply nobody can match is visible as a dead letter.
 */
import { afterEach, describe, expect, it } from 'vitest';
import {
  createOutbox,
  newMessageId,
  type SagaRecord,
  TERMINAL_SAGA_STATUSES,
} from '../packages/core/src/index.js';
import { waitFor } from '../packages/core/src/testing/wait-for.js';
import { availableBackends } from './support/backends.js';
import { type CommandTestbed, createCommandTestbed, REPLY_TO } from './support/command-testbed.js';

const backends = await availableBackends();

describe.each(backends)('saga command calls on $name', (backend) => {
  let bed: CommandTestbed | null = null;

  afterEach(async () => {
    await bed?.close();
    bed = null;
  });

  async function settled(testbed: CommandTestbed, sagaId: string): Promise<SagaRecord> {
    const record = await waitFor(
      `saga ${sagaId} to end`,
      async () => {
        const record = await testbed.orders.sagas.get(sagaId);
        return record !== undefined && TERMINAL_SAGA_STATUSES.has(record.status) ? record : null;
      },
      30_000,
      25,
    ).catch(async (error: Error) => {
      // Say where the saga stands, so a failure explains itself.
      const log = await testbed.orders.sagas.transitions(sagaId);
      const kinds = log.map(
        (t) =>
          `${t.kind}${t.step ? ` ${t.step}#${t.attempt}` : ''}${t.kind.endsWith('failed') ? ` ${JSON.stringify(t.detail)}` : ''}`,
      );
      throw new Error(
        `${error.message}\n${kinds.join(', ')}\nhandled: ${JSON.stringify([...testbed.handled])}`,
      );
    });
    return record!;
  }

  it('completes with each step applied once and its output taken from the reply', async () => {
    bed = await createCommandTestbed(backend);
    const orchestrator = await bed.orchestrator();
    const { sagaId } = await orchestrator.startSaga(bed.saga, { customer: 'c-1' });

    const record = await settled(bed, sagaId);

    expect(record.status).toBe('completed');
    expect((await bed.effects()).map((e) => `${e.kind} ${e.step}`)).toEqual([
      'apply reserve',
      'apply charge',
    ]);
    const snapshot = record.snapshot as { steps: Record<string, { output: unknown }> };
    expect(snapshot.steps.charge!.output).toEqual({ step: 'charge', applied: true });
  });

  it('compensates the completed steps by command when the participant rejects one', async () => {
    bed = await createCommandTestbed(backend);
    const orchestrator = await bed.orchestrator();
    const { sagaId } = await orchestrator.startSaga(bed.saga, {
      customer: 'c-2',
      script: { charge: 'reject' },
    });

    const record = await settled(bed, sagaId);

    expect(record.status).toBe('compensated');
    expect((await bed.effects()).map((e) => `${e.kind} ${e.step}`)).toEqual([
      'apply reserve',
      'undo reserve',
    ]);
    // A rejection is final: one attempt, no retries.
    expect(bed.handled.get(`${sagaId}:charge`)).toBe(1);
    const failed = (await bed.orders.sagas.transitions(sagaId)).find((t) => t.kind === 'step-failed');
    expect(JSON.stringify(failed?.detail)).toContain('NO_FUNDS');
  });

  it('retries a step the participant could not apply, and applies it once', async () => {
    bed = await createCommandTestbed(backend);
    const orchestrator = await bed.orchestrator();
    const { sagaId } = await orchestrator.startSaga(bed.saga, {
      customer: 'c-3',
      script: { reserve: 'fail:2' },
    });

    const record = await settled(bed, sagaId);

    expect(record.status).toBe('completed');
    expect(bed.handled.get(`${sagaId}:reserve`)).toBe(3);
    expect((await bed.effects()).filter((e) => e.step === 'reserve')).toHaveLength(1);
  });

  it("rolls back a step whose SQL failed inside the participant's transaction, then applies it on the retry", async () => {
    bed = await createCommandTestbed(backend);
    const orchestrator = await bed.orchestrator();
    const { sagaId } = await orchestrator.startSaga(bed.saga, {
      customer: 'c-4',
      script: { charge: 'sql-error' },
    });

    const record = await settled(bed, sagaId);

    expect(record.status).toBe('completed');
    expect(bed.handled.get(`${sagaId}:charge`)).toBe(2);
    expect((await bed.effects()).map((e) => `${e.kind} ${e.step}`)).toEqual([
      'apply reserve',
      'apply charge',
    ]);
  });

  it('waits out a participant that is away: the repeated commands apply once when it is back', async () => {
    bed = await createCommandTestbed(backend);
    await bed.stopParticipant();
    const orchestrator = await bed.orchestrator({ timeoutMs: 300 });
    const { sagaId } = await orchestrator.startSaga(bed.saga, { customer: 'c-5' });
    // At least two attempts of `reserve` go unanswered (timed out), each a command of its own.
    await waitFor(
      'two unanswered attempts',
      async () =>
        (await bed!.orders.sagas.transitions(sagaId)).filter((t) => t.kind === 'step-timed-out').length >= 2
          ? true
          : null,
      20_000,
      25,
    );
    await bed.startParticipant();

    const record = await settled(bed, sagaId);

    // Within its attempts, the step got the answer (the participant replayed its stored reply to
    // the later commands), or ran out of attempts and was compensated — either way, once.
    const effects = await bed.effects();
    const applied = effects.filter((e) => e.kind === 'apply' && e.step === 'reserve');
    expect(applied.length).toBeLessThanOrEqual(1);
    if (record.status === 'completed') expect(applied).toHaveLength(1);
    else expect(effects.filter((e) => e.kind === 'undo').length).toBe(applied.length);
    expect(bed.handled.get(`${sagaId}:reserve`)).toBe(1);
  });

  it("reuses an earlier attempt's final reply after a takeover instead of sending the command again", async () => {
    bed = await createCommandTestbed(backend);
    const command = {
      type: 'billing.reserve',
      key: 'c-6',
      data: { sagaId: 's-6', step: 'reserve' },
      idempotencyKey: 's-6:reserve',
    };
    const first = await bed.channel.request(command, AbortSignal.timeout(10_000));
    // The instance that took over finds it once the reply's inbox transaction has committed.
    await waitFor(
      'the reply to be recorded',
      () => bed!.orders.commandReplies.finalFor('s-6:reserve').then((r) => r ?? null),
      10_000,
      20,
    );
    const sentBefore = await outboxCount(bed);

    const again = await bed.channel.request(command, AbortSignal.timeout(10_000));

    expect(again).toEqual(first);
    expect(await outboxCount(bed)).toBe(sentBefore);
    expect(bed.handled.get('s-6:reserve')).toBe(1);
  });

  it('dead-letters a reply that names no command, so it is visible rather than dropped', async () => {
    bed = await createCommandTestbed(backend);
    const stray = createStrayReply();
    const outbox = createOutbox({ storage: bed.billing, source: 'billing' });
    await bed.billing.transaction((tx) => outbox.append(tx, [stray]));

    const letters = await waitFor(
      'the stray reply to be dead-lettered',
      async () => {
        const found = await bed!.orders.inbox.listDeadLetters(REPLY_TO);
        return found.length > 0 ? found : null;
      },
      20_000,
      25,
    );

    expect(letters![0]!.messageId).toBe(stray.id);
    expect(letters![0]!.errorMessage).toContain('names no command');
  });
});

function createStrayReply() {
  return { id: newMessageId(), type: REPLY_TO, key: 'c-7', data: { outcome: 'ok', data: null } };
}

/** Messages the orchestrating service has written to its outbox (each command sent is one). */
async function outboxCount(bed: CommandTestbed): Promise<number> {
  const table = bed.databases.url('orders').startsWith('sqlite:') ? 'converge_outbox' : 'converge.outbox';
  const rows = await bed.orders.transaction((tx) =>
    tx.query<{ n: number | string }>(`SELECT count(*) AS n FROM ${table}`),
  );
  return Number(rows[0]!.n);
}
