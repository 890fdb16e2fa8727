/**
 * Sagas whose steps are command messages: an orchestrating service (`orders`: its own database,
 * outbox, relay, inbox and command channel) and a participant (`billing`: its own database, an
 * inbox running `commandHandler`, outbox and relay), both on a SQL-log transport in a third
 * database (`broker`). The participant (billing-participant.ts) records each effect in its
 * `effect` table; what it does with a command is scripted per step by the saga input.
 */
import {
  type CommandChannel,
  type CommandRequester,
  commandCall,
  createCommandChannel,
  createInbox,
  createOrchestrator,
  createOutbox,
  createRelay,
  createSqlLogTransport,
  defineSaga,
  type Orchestrator,
  type SagaDefinition,
  type Storage,
  type Transport,
} from '../../packages/core/src/index.js';
import type { Backend, TestDatabases } from './backends.js';
import {
  BILLING_COMMANDS,
  type BillingCommandData,
  type BillingStep,
  type CommandEffect,
  type CommandScript,
  createBillingParticipant,
} from './billing-participant.js';

export interface CommandSagaInput {
  readonly customer: string;
  readonly script?: Partial<Record<BillingStep, CommandScript>>;
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

export interface CommandSagaOptions {
  /** Default `command-saga`. */
  readonly name?: string;
  /** The steps, in order, each a command to `billing` (see `BILLING_COMMANDS`). Default `reserve`, `charge`. */
  readonly steps?: readonly BillingStep[];
  /** Each attempt's timeout. Default 5000. */
  readonly timeoutMs?: number;
}

/**
 * A saga whose steps are commands to `billing`: by default `reserve` (undone by `billing.release`)
 * then `charge` (undone by `billing.refund`). The commands carry `BillingCommandData`.
 */
export function commandSaga(
  requester: CommandRequester,
  options: CommandSagaOptions = {},
): SagaDefinition<CommandSagaInput> {
  const retry = { maxAttempts: 4, initialDelayMs: 20, maxDelayMs: 100 };
  const timeoutMs = options.timeoutMs ?? 5_000;
  const command = (type: string, step: BillingStep) =>
    commandCall<CommandSagaInput, object>(requester, {
      type,
      key: (c) => c.input.customer,
      data: (c): BillingCommandData => ({ sagaId: c.sagaId, step, script: c.input.script?.[step] }),
    });
  let builder = defineSaga(options.name ?? 'command-saga', 1).input<CommandSagaInput>(
    (input) => input as CommandSagaInput,
  );
  for (const step of options.steps ?? ['reserve', 'charge']) {
    builder = builder.step(step, {
      action: command(BILLING_COMMANDS[step].action, step),
      compensate: command(BILLING_COMMANDS[step].compensation, step),
      retry,
      timeoutMs,
      compensationRetry: retry,
      compensationTimeoutMs: timeoutMs,
    }) as typeof builder;
  }
  return builder.build();
}

export async function createCommandTestbed(backend: Backend): Promise<CommandTestbed> {
  const databases = (await backend.create())!;
  const broker = await databases.open('broker');
  const orders = await databases.open('orders');
  const billing = await databases.open('billing');
  const transport = createSqlLogTransport({ storage: broker, pollIntervalMs: 20 });
  const relay = createRelay({ storage: orders, transport, pollIntervalMs: 20 });
  await relay.start();
  const channel = createCommandChannel({
    storage: orders,
    outbox: createOutbox({ storage: orders, source: 'orders' }),
    inbox: createInbox({ storage: orders, transport }),
    replyTo: REPLY_TO,
    pollIntervalMs: 20,
  });
  await channel.start();
  const participant = await createBillingParticipant({ backend, storage: billing, transport });
  const orchestrators: Orchestrator[] = [];

  const bed: CommandTestbed = {
    databases,
    orders,
    billing,
    transport,
    channel,
    saga: commandSaga(channel),
    handled: participant.handled,
    async orchestrator(options = {}) {
      const made = createOrchestrator({
        storage: orders,
        definitions: [commandSaga(channel, options)],
        leaseMs: 2_000,
        pollIntervalMs: 50,
      });
      orchestrators.push(made);
      await made.start();
      return made;
    },
    startParticipant: () => participant.start(),
    stopParticipant: () => participant.stop(),
    effects: () => participant.effects(),
    async close() {
      for (const orchestrator of orchestrators.splice(0)) await orchestrator.stop();
      await participant.stop();
      await channel.stop();
      await relay.stop();
      await transport.close();
      await databases.cleanup();
    },
  };
  await participant.start();
  return bed;
}
