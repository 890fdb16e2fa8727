/**
 * A producer → relay → SQL log → consumer pipeline over test databases, with an `effect` table in
 * the consumer's database where the handler records what it applied.
 */
import {
  createInbox,
  createOutbox,
  createRelay,
  createSqlLogTransport,
  type Envelope,
  type MessageHandler,
  type Relay,
  type Storage,
  type SubscriptionOptions,
  type Transaction,
  type Transport,
} from '../../packages/core/src/index.js';
import { type Backend, param, type TestDatabases } from './backends.js';

export interface Pipeline {
  readonly producer: Storage;
  readonly broker: Storage;
  readonly consumerDb: Storage;
  readonly transport: Transport;
  readonly outbox: ReturnType<typeof createOutbox>;
  readonly relays: Relay[];
  /** Records the message in `effect` (the handler's default behaviour). */
  recordEffect(tx: Transaction, message: Envelope): Promise<void>;
  /** Effects in the order they were applied. */
  effects(): Promise<{ messageId: string; key: string; sequence: number; type: string }[]>;
  subscribe(options: Partial<SubscriptionOptions>, handler?: MessageHandler): Promise<void>;
  startRelay(options?: { pollIntervalMs?: number }): Promise<Relay>;
  stop(): Promise<void>;
}

export async function createPipeline(backend: Backend, databases: TestDatabases): Promise<Pipeline> {
  const producer = await databases.open('producer');
  const broker = await databases.open('broker');
  const consumerDb = await databases.open('consumer');
  await consumerDb.transaction(async (tx) => {
    await tx.execute(
      'CREATE TABLE effect (n INTEGER PRIMARY KEY, message_id TEXT NOT NULL UNIQUE, key TEXT NOT NULL, sequence INTEGER NOT NULL, type TEXT NOT NULL)'.replace(
        'n INTEGER PRIMARY KEY',
        backend.name === 'postgres' ? 'n BIGSERIAL PRIMARY KEY' : 'n INTEGER PRIMARY KEY AUTOINCREMENT',
      ),
    );
  });
  const transport = createSqlLogTransport({ storage: broker, pollIntervalMs: 20 });
  const outbox = createOutbox({ storage: producer, source: 'customer-profile' });
  const relays: Relay[] = [];
  const consumers: { stop(): Promise<void> }[] = [];
  const p = (i: number) => param(backend, i);

  const recordEffect = async (tx: Transaction, message: Envelope) => {
    await tx.execute(
      `INSERT INTO effect (message_id, key, sequence, type) VALUES (${p(1)}, ${p(2)}, ${p(3)}, ${p(4)})`,
      [message.id, message.subject, message.sequence, message.type],
    );
  };

  return {
    producer,
    broker,
    consumerDb,
    transport,
    outbox,
    relays,
    recordEffect,
    async effects() {
      const rows = await consumerDb.transaction((tx) =>
        tx.query<{ message_id: string; key: string; sequence: number | string; type: string }>(
          'SELECT message_id, key, sequence, type FROM effect ORDER BY n',
        ),
      );
      return rows.map((r) => ({
        messageId: r.message_id,
        key: r.key,
        sequence: Number(r.sequence),
        type: r.type,
      }));
    },
    async subscribe(options, handler) {
      const inbox = createInbox({ storage: consumerDb, transport });
      consumers.push(
        await inbox.subscribe(
          {
            consumer: 'billing',
            retryPollIntervalMs: 20,
            retry: { initialDelayMs: 5, maxDelayMs: 20 },
            ...options,
          },
          handler ?? ((message, tx) => recordEffect(tx, message)),
        ),
      );
    },
    async startRelay(options = {}) {
      const relay = createRelay({
        storage: producer,
        transport,
        pollIntervalMs: options.pollIntervalMs ?? 20,
      });
      relays.push(relay);
      await relay.start();
      return relay;
    },
    async stop() {
      for (const relay of relays) await relay.stop();
      for (const consumer of consumers) await consumer.stop();
      await transport.close();
    },
  };
}
