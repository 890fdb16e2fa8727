/**
 * The participant of the command-saga tests: `billing`, with its own database, an inbox running
 * `commandHandler` over the billing commands, and a relay that publishes its replies. It records
 * each effect in its `effect` table; what it does with a command is scripted per step by the
 * command's data (see `CommandScript`).
 */
import {
  type Consumer,
  commandHandler,
  createInbox,
  createOutbox,
  createRelay,
  type Envelope,
  type Relay,
  RetryableError,
  type Storage,
  TerminalError,
  type Transport,
} from '../../packages/core/src/index.js';
import { type Backend, param } from './backends.js';

/** The participant's commands, by step: the action's message type and its compensation's. */
export const BILLING_COMMANDS = {
  reserve: { action: 'billing.reserve', compensation: 'billing.release' },
  charge: { action: 'billing.charge', compensation: 'billing.refund' },
  invoice: { action: 'billing.invoice', compensation: 'billing.void' },
} as const;
export type BillingStep = keyof typeof BILLING_COMMANDS;

/**
 * What the participant does with a step's command: apply it (absent), refuse it for good
 * (`reject`), fail its first n attempts (`fail:<n>`), or fail its first attempt with a broken SQL
 * statement (`sql-error`).
 */
export type CommandScript = 'reject' | `fail:${number}` | 'sql-error';

/** What a step's command carries (see `commandSaga`). */
export interface BillingCommandData {
  readonly sagaId: string;
  readonly step: string;
  /** Absent (or undefined, as JSON drops it): apply. */
  readonly script?: CommandScript | undefined;
}

export interface CommandEffect {
  readonly n: number;
  readonly sagaId: string;
  readonly step: string;
  readonly kind: 'apply' | 'undo';
}

export interface BillingParticipant {
  /** Commands the participant's handler was called with (replays of a stored reply are not), by idempotency key. */
  readonly handled: Map<string, number>;
  /** Starts its inbox consumer and its relay (idempotent). */
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Every effect, in the order it was applied. */
  effects(): Promise<CommandEffect[]>;
}

const COMPENSATIONS: ReadonlySet<string> = new Set(
  Object.values(BILLING_COMMANDS).map((c) => c.compensation),
);
const TYPES = Object.values(BILLING_COMMANDS).flatMap((c) => [c.action, c.compensation]);

export interface BillingParticipantOptions {
  readonly backend: Backend;
  /** Billing's own database. */
  readonly storage: Storage;
  readonly transport: Transport;
  /** Called as the effect of a command starts, before it writes (not for a repeat answered from the stored reply). */
  readonly onEffect?: (message: Envelope) => void;
}

/** Creates the `effect` table in `options.storage`; the participant starts stopped. */
export async function createBillingParticipant(
  options: BillingParticipantOptions,
): Promise<BillingParticipant> {
  const { backend, storage, transport } = options;
  const p = (i: number) => param(backend, i);
  await storage.transaction((tx) =>
    tx.execute(
      `CREATE TABLE effect (n ${backend.name === 'postgres' ? 'BIGSERIAL PRIMARY KEY' : 'INTEGER PRIMARY KEY AUTOINCREMENT'}, saga_id TEXT NOT NULL, step TEXT NOT NULL, kind TEXT NOT NULL)`,
    ),
  );
  const handled = new Map<string, number>();
  const outbox = createOutbox({ storage, source: 'billing' });
  const handle = commandHandler({ storage, outbox }, async (message, tx) => {
    const key = message.idempotencykey ?? message.id;
    const attempt = (handled.get(key) ?? 0) + 1;
    handled.set(key, attempt);
    options.onEffect?.(message);
    const { sagaId, step, script } = message.data as BillingCommandData;
    const undo = COMPENSATIONS.has(message.type);
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
  let running: { consumer: Consumer; relay: Relay } | null = null;

  return {
    handled,
    async start() {
      if (running !== null) return;
      const consumer = await createInbox({ storage, transport }).subscribe(
        { consumer: 'billing', types: TYPES, retryPollIntervalMs: 20 },
        handle,
      );
      const relay = createRelay({ storage, transport, pollIntervalMs: 20 });
      await relay.start();
      running = { consumer, relay };
    },
    async stop() {
      if (running === null) return;
      await running.consumer.stop();
      await running.relay.stop();
      running = null;
    },
    async effects() {
      const rows = await storage.transaction((tx) =>
        tx.query<{ n: number | string; saga_id: string; step: string; kind: 'apply' | 'undo' }>(
          'SELECT n, saga_id, step, kind FROM effect ORDER BY n',
        ),
      );
      return rows.map((r) => ({ n: Number(r.n), sagaId: r.saga_id, step: r.step, kind: r.kind }));
    },
  };
}
