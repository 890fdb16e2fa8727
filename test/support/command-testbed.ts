/**
 * Sagas whose steps are command messages: an orchestrating service (`orders`: its own database,
 * outbox, relay, inbox and command channel) and a participant (`billing`: its own database, an
 * inbox running `commandHandler`, outbox and relay), both on a SQL-log transport in a third
 * database (`broker`). The participant records each effect in its `effect` table; what it does
 * with a command is scripted per step by the saga input (see `CommandScript`).
 */
import {
  type CommandChannel,
  type Consumer,
  commandCall,
  commandHandler,
  createCommandChannel,
  createInbox,
  createOrchestrator,
  createOutbox,
  createRelay,
  createSqlLogTransport,
  defineSaga,
  type Orchestrator,
  type Relay,
  RetryableError,
  type SagaDefinition,
  type Storage,
  TerminalError,
  type Transport,
} from '../../packages/core/src/index.js';
import { type Backend, param, type TestDatabases } from './backends.js';

/**
 * What the participant does with a step's command: apply it (absent), refuse it for good
 * (`reject`), fail its first n attempts (`fail:<n>`), or fail its first attempt with a broken SQL
 * statement (`sql-error`).
 */
export type CommandScript = 'reject' | `fail:${number}` | 'sql-error';

export interface CommandSagaInput {
  readonly customer: string;
  readonly script?: Partial<Record<'reserve' | 'charge', CommandScript>>;
}

export interface CommandEffect {
  readonly n: number;
  readonly sagaId: string;
  readonly step: string;
  readonly kind: 'apply' | 'undo';
}

export interface CommandTestbed {
  readonly databases: TestDatabases;
  readonly orders: Storage;
  readonly billing: Storage;
  readonly transport: Transport;
  readonly channel: CommandChannel;
  readonly saga: SagaDefinition<CommandSagaInput>;
  /** Starts an orchestrator instance of `orders` on the channel. */
  orchestrator(options?: { timeoutMs?: number }): Promise<Orchestrator>;
  /** Starts the participant (its inbox and relay); a testbed starts with it running. */
  startParticipant(): Promise<void>;
  stopParticipant(): Promise<void>;
  /** Commands the participant's handler was called with, by idempotency key. */
  readonly handled: Map<string, number>;
  effects(): Promise<CommandEffect[]>;
  close(): Promise<void>;
}

export const REPLY_TO = 'orders.saga.reply';

/** Two steps, `reserve` (undone by `billing.release`) then `charge` (undone by `billing.refund`). */
export function commandSaga(channel: CommandChannel, timeoutMs = 5_000): SagaDefinition<CommandSagaInput> {
  const retry = { maxAttempts: 4, initialDelayMs: 20, maxDelayMs: 100 };
  const command = (type: string, step: string) =>
    commandCall<CommandSagaInput, object>(channel, {
      type,
      key: (c) => c.input.customer,
      data: (c) => ({ sagaId: c.sagaId, step, script: c.input.script?.[step as 'reserve' | 'charge'] }),
    });
  return defineSaga('command-saga', 1)
    .input<CommandSagaInput>((input) => input as CommandSagaInput)
    .step('reserve', {
      action: command('billing.reserve', 'reserve'),
      compensate: command('billing.release', 'reserve'),
      retry,
      timeoutMs,
      compensationRetry: retry,
      compensationTimeoutMs: timeoutMs,
    })
    .step('charge', {
      action: command('billing.charge', 'charge'),
      compensate: command('billing.refund', 'charge'),
      retry,
      timeoutMs,
      compensationRetry: retry,
      compensationTimeoutMs: timeoutMs,
    })
    .build();
}

export async function createCommandTestbed(backend: Backend): Promise<CommandTestbed> {
  const databases = (await backend.create())!;
  const broker = await databases.open('broker');
  const orders = await databases.open('orders');
  const billing = await databases.open('billing');
  const p = (i: number) => param(backend, i);
  await billing.transaction((tx) =>
    tx.execute(
      `CREATE TABLE effect (n ${backend.name === 'postgres' ? 'BIGSERIAL PRIMARY KEY' : 'INTEGER PRIMARY KEY AUTOINCREMENT'}, saga_id TEXT NOT NULL, step TEXT NOT NULL, kind TEXT NOT NULL)`,
    ),
  );
  const transport = createSqlLogTransport({ storage: broker, pollIntervalMs: 20 });
  const relays: Relay[] = [];
  const startRelay = async (storage: Storage) => {
    const relay = createRelay({ storage, transport, pollIntervalMs: 20 });
    relays.push(relay);
    await relay.start();
    return relay;
  };
  await startRelay(orders);
  const channel = createCommandChannel({
    storage: orders,
    outbox: createOutbox({ storage: orders, source: 'orders' }),
    inbox: createInbox({ storage: orders, transport }),
    replyTo: REPLY_TO,
    pollIntervalMs: 20,
  });
  await channel.start();

  const handled = new Map<string, number>();
  const billingOutbox = createOutbox({ storage: billing, source: 'billing' });
  const handle = commandHandler({ storage: billing, outbox: billingOutbox }, async (message, tx) => {
    const key = message.idempotencykey ?? message.id;
    const attempt = (handled.get(key) ?? 0) + 1;
    handled.set(key, attempt);
    const { sagaId, step, script } = message.data as { sagaId: string; step: string; script?: CommandScript };
    const undo = message.type === 'billing.release' || message.type === 'billing.refund';
    if (!undo && script === 'reject')
      throw new TerminalError(`customer ${message.subject} has no funds`, { code: 'NO_FUNDS' });
    if (!undo && script?.startsWith('fail:') && attempt <= Number(script.slice(5)))
      throw new RetryableError(`billing is busy (attempt ${attempt})`, { retryAfterMs: 10 });
    await tx.execute(`INSERT INTO effect (saga_id, step, kind) VALUES (${p(1)}, ${p(2)}, ${p(3)})`, [
      sagaId,
      step,
      undo ? 'undo' : 'apply',
    ]);
    if (!undo && script === 'sql-error' && attempt === 1) await tx.execute('SELECT * FROM no_such_table');
    return { step, applied: !undo };
  });
  let participant: { consumer: Consumer; relay: Relay } | null = null;
  const orchestrators: Orchestrator[] = [];

  const bed: CommandTestbed = {
    databases,
    orders,
    billing,
    transport,
    channel,
    saga: commandSaga(channel),
    handled,
    async orchestrator(options = {}) {
      const made = createOrchestrator({
        storage: orders,
        definitions: [commandSaga(channel, options.timeoutMs)],
        leaseMs: 2_000,
        pollIntervalMs: 50,
      });
      orchestrators.push(made);
      await made.start();
      return made;
    },
    async startParticipant() {
      if (participant !== null) return;
      const consumer = await createInbox({ storage: billing, transport }).subscribe(
        {
          consumer: 'billing',
          types: ['billing.reserve', 'billing.charge', 'billing.release', 'billing.refund'],
          retryPollIntervalMs: 20,
        },
        handle,
      );
      participant = { consumer, relay: await startRelay(billing) };
    },
    async stopParticipant() {
      if (participant === null) return;
      await participant.consumer.stop();
      await participant.relay.stop();
      relays.splice(relays.indexOf(participant.relay), 1);
      participant = null;
    },
    async effects() {
      const rows = await billing.transaction((tx) =>
        tx.query<{ n: number | string; saga_id: string; step: string; kind: 'apply' | 'undo' }>(
          'SELECT n, saga_id, step, kind FROM effect ORDER BY n',
        ),
      );
      return rows.map((r) => ({ n: Number(r.n), sagaId: r.saga_id, step: r.step, kind: r.kind }));
    },
    async close() {
      for (const orchestrator of orchestrators.splice(0)) await orchestrator.stop();
      await bed.stopParticipant();
      await channel.stop();
      for (const relay of relays.splice(0)) await relay.stop();
      await transport.close();
      await databases.cleanup();
    },
  };
  await bed.startParticipant();
  return bed;
}
