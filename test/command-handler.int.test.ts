/**
 * The participant side of saga commands, end to end on SQLite files and PostgreSQL: an
 * orchestrating service ('orders') appends commands to its outbox, its relay publishes them to
 * the SQL log on its database, the participant ('billing') applies them with a real inbox through
 * `commandHandler` and answers through its own outbox and relay, and the orders service reads the
 * replies with its own inbox. A retried attempt is a new message with the same idempotency key: it
 * gets the stored reply and the effect exists once; a refusal is rolled back and stored; a failure
 * (a thrown error, or bad SQL that on PostgreSQL aborts the transaction) is rolled back and not
 * stored, so the next attempt runs; a key reused for another command is refused; a command without
 * `replyto` is answered with nothing.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  type Consumer,
  commandHandler,
  createInbox,
  createOutbox,
  createRelay,
  createSqlLogTransport,
  type Envelope,
  type Outbox,
  type Relay,
  RetryableError,
  type Storage,
  TerminalError,
  type Transport,
} from '../packages/core/src/index.js';
import { waitFor } from '../packages/core/src/testing/wait-for.js';
import { availableBackends, param, type TestDatabases } from './support/backends.js';

const backends = await availableBackends();
const REPLY_TYPE = 'orders.saga.reply';

/** What the test asks of the handler's next runs, per idempotency key (or message id when unkeyed). */
type Behaviour = 'ok' | 'refuse' | 'fail-once' | 'bad-sql' | 'bigint';

interface ChargeCommand {
  readonly customer: string;
  readonly cents: number;
  readonly behaviour: Behaviour;
  /** Stored with the effect, so each test counts its own rows. */
  readonly note: string;
}

describe.each(backends)('commandHandler on $name', (backend) => {
  let databases: TestDatabases;
  let orders: Storage;
  let billing: Storage;
  let log: Transport;
  let ordersOutbox: Outbox;
  const stops: (() => Promise<void>)[] = [];
  const replies: Envelope[] = [];
  /** Runs of `handle` by note. */
  const calls = new Map<string, number>();
  /** Notes whose handler already failed once (`fail-once` succeeds on its next run). */
  const failedOnce = new Set<string>();

  const keyTable = backend.name === 'postgres' ? 'converge.idempotency_key' : 'converge_idempotency_key';
  const count = async (storage: Storage, sql: string, params: unknown[] = []) => {
    const [row] = await storage.transaction((tx) => tx.query<{ n: number | string }>(sql, params));
    return Number(row?.n);
  };
  const effects = (note: string) =>
    count(billing, `SELECT count(*) AS n FROM charge WHERE note = ${param(backend, 1)}`, [note]);
  const storedKeys = (key: string) =>
    count(billing, `SELECT count(*) AS n FROM ${keyTable} WHERE key = ${param(backend, 1)}`, [key]);
  const billingMessages = async () => {
    const status = await billing.outbox.status();
    return status.backlog + status.publishedRetained;
  };

  async function send(
    command: ChargeCommand,
    attributes: { idempotencyKey?: string; replyTo?: string; sagaId?: string } = {},
  ): Promise<Envelope> {
    const [envelope] = await orders.transaction((tx) =>
      ordersOutbox.append(tx, [
        {
          type: 'billing.charge',
          key: command.customer,
          data: command,
          ...(attributes.idempotencyKey === undefined ? {} : { idempotencyKey: attributes.idempotencyKey }),
          ...(attributes.replyTo === undefined ? {} : { replyTo: attributes.replyTo }),
          ...(attributes.sagaId === undefined ? {} : { correlationId: attributes.sagaId }),
        },
      ]),
    );
    return envelope!;
  }
  const replyTo = async (command: Envelope): Promise<Envelope> =>
    (await waitFor(`the reply to command ${command.id}`, () =>
      replies.find((reply) => reply.causationid === command.id),
    ))!;
  /** Sends a saga step's attempt and waits for its reply. */
  const attempt = async (sagaId: string, command: ChargeCommand) => {
    const sent = await send(command, { idempotencyKey: `${sagaId}:charge`, replyTo: REPLY_TYPE, sagaId });
    return { sent, reply: await replyTo(sent) };
  };

  beforeAll(async () => {
    databases = (await backend.create())!;
    orders = await databases.open('orders');
    billing = await databases.open('billing');
    await billing.transaction(async (tx) => {
      await tx.execute('CREATE TABLE charge (customer text NOT NULL, cents integer NOT NULL, note text)');
    });
    log = createSqlLogTransport({ storage: orders, pollIntervalMs: 50 });
    stops.push(() => log.close());
    ordersOutbox = createOutbox({ storage: orders, source: 'orders' });
    const billingOutbox = createOutbox({ storage: billing, source: 'billing' });
    for (const storage of [orders, billing]) {
      const relay: Relay = createRelay({ storage, transport: log, pollIntervalMs: 50 });
      await relay.start();
      stops.push(() => relay.stop());
    }

    const participant: Consumer = await createInbox({ storage: billing, transport: log }).subscribe(
      { consumer: 'billing', types: ['billing.charge'], retryPollIntervalMs: 50 },
      commandHandler<ChargeCommand>({ storage: billing, outbox: billingOutbox }, async (message, tx) => {
        const { customer, cents, behaviour, note } = message.data;
        calls.set(note, (calls.get(note) ?? 0) + 1);
        await tx.execute(
          `INSERT INTO charge (customer, cents, note) VALUES (${param(backend, 1)}, ${param(backend, 2)}, ${param(backend, 3)})`,
          [customer, cents, note],
        );
        if (behaviour === 'refuse')
          throw new TerminalError(`customer ${customer} is closed`, { code: 'CUSTOMER_CLOSED' });
        if (behaviour === 'fail-once' && !failedOnce.has(note)) {
          failedOnce.add(note);
          throw new RetryableError('the card processor is unavailable', { retryAfterMs: 1500 });
        }
        if (behaviour === 'bad-sql') await tx.execute('SELECT missing_column FROM charge');
        if (behaviour === 'bigint') return { charged: BigInt(cents) };
        return { charged: cents, customer };
      }),
    );
    stops.push(() => participant.stop());
    const replyReader: Consumer = await createInbox({ storage: orders, transport: log }).subscribe(
      { consumer: 'orders-replies', types: [REPLY_TYPE] },
      async (message) => {
        replies.push(message);
      },
    );
    stops.push(() => replyReader.stop());
  });
  afterAll(async () => {
    for (const stop of stops.splice(0).reverse()) await stop();
    await databases?.cleanup();
  });
  beforeEach(() => {
    replies.length = 0;
  });

  it('applies a retried attempt (a new message, the same key) once and sends the stored reply again, caused by each command', async () => {
    const command: ChargeCommand = { customer: 'c-1', cents: 500, behaviour: 'ok', note: 'retried' };
    const first = await attempt('saga-retried', command);
    const second = await attempt('saga-retried', command);

    expect(second.sent.id).not.toBe(first.sent.id);
    expect(first.reply.data).toEqual({ outcome: 'ok', data: { charged: 500, customer: 'c-1' } });
    expect(second.reply.data).toEqual(first.reply.data);
    expect(calls.get('retried')).toBe(1);
    expect(await effects('retried')).toBe(1);
    for (const { sent, reply } of [first, second]) {
      expect(reply).toMatchObject({
        type: REPLY_TYPE,
        source: 'billing',
        subject: 'c-1',
        causationid: sent.id,
        correlationid: 'saga-retried',
        idempotencykey: 'saga-retried:charge',
      });
    }
  });

  it('answers a TerminalError with a stored rejection: the effect is rolled back and a retry is refused the same way without running again', async () => {
    const command: ChargeCommand = { customer: 'c-2', cents: 700, behaviour: 'refuse', note: 'refused' };
    const first = await attempt('saga-refused', command);
    const second = await attempt('saga-refused', command);

    expect(first.reply.data).toEqual({
      outcome: 'rejected',
      code: 'CUSTOMER_CLOSED',
      message: 'customer c-2 is closed',
    });
    expect(second.reply.data).toEqual(first.reply.data);
    expect(calls.get('refused')).toBe(1);
    expect(await effects('refused')).toBe(0);
    expect(await storedKeys('saga-refused:charge')).toBe(1);
  });

  it('answers any other error with failed (and its retryAfterMs), rolled back and not stored, so the next attempt runs again', async () => {
    const command: ChargeCommand = { customer: 'c-3', cents: 900, behaviour: 'fail-once', note: 'failed' };
    const first = await attempt('saga-failed', command);

    expect(first.reply.data).toEqual({
      outcome: 'failed',
      message: 'the card processor is unavailable',
      retryAfterMs: 1500,
    });
    expect(await effects('failed')).toBe(0);
    expect(await storedKeys('saga-failed:charge')).toBe(0);

    const second = await attempt('saga-failed', command);
    expect(second.reply.data).toEqual({ outcome: 'ok', data: { charged: 900, customer: 'c-3' } });
    expect(calls.get('failed')).toBe(2);
    expect(await effects('failed')).toBe(1);
  });

  it('answers bad SQL inside the handler with failed, and the inbox transaction still commits the reply', async () => {
    // On PostgreSQL the failed statement aborts the transaction until the savepoint is rolled back.
    const command: ChargeCommand = { customer: 'c-4', cents: 100, behaviour: 'bad-sql', note: 'bad-sql' };
    const { reply } = await attempt('saga-bad-sql', command);

    expect(reply.data).toMatchObject({ outcome: 'failed', message: expect.stringMatching(/missing_column/) });
    expect(await effects('bad-sql')).toBe(0);
    expect(await storedKeys('saga-bad-sql:charge')).toBe(0);
    expect(await billing.inbox.listDeadLetters('billing')).toEqual([]);
  });

  it('refuses a key reused for another command, applying nothing', async () => {
    const original: ChargeCommand = { customer: 'c-5', cents: 500, behaviour: 'ok', note: 'reused' };
    await attempt('saga-reused', original);
    const { reply } = await attempt('saga-reused', { ...original, cents: 900 });

    expect(reply.data).toMatchObject({ outcome: 'rejected', code: 'IDEMPOTENCY_KEY_REUSED' });
    expect((reply.data as { message: string }).message).toContain("'saga-reused:charge'");
    expect(calls.get('reused')).toBe(1);
    expect(await effects('reused')).toBe(1);
  });

  it('rejects (and stores) a result no reply can carry, with nothing applied', async () => {
    const command: ChargeCommand = { customer: 'c-6', cents: 5, behaviour: 'bigint', note: 'bigint' };
    const first = await attempt('saga-bigint', command);
    const second = await attempt('saga-bigint', command);

    expect(first.reply.data).toMatchObject({ outcome: 'rejected', code: 'COMMAND_REPLY_INVALID' });
    expect(second.reply.data).toEqual(first.reply.data);
    expect(calls.get('bigint')).toBe(1);
    expect(await effects('bigint')).toBe(0);
  });

  it('applies a command without replyto once per key and sends no reply', async () => {
    const before = await billingMessages();
    const command: ChargeCommand = { customer: 'c-7', cents: 300, behaviour: 'ok', note: 'no-reply' };
    const sent = [
      await send(command, { idempotencyKey: 'saga-no-reply:charge' }),
      await send(command, { idempotencyKey: 'saga-no-reply:charge' }),
    ];
    await waitFor('both commands to be handled', () =>
      billing.transaction(async (tx) => {
        for (const { id } of sent) if (!(await billing.inbox.hasReceipt(tx, 'billing', id))) return false;
        return true;
      }),
    );

    expect(calls.get('no-reply')).toBe(1);
    expect(await effects('no-reply')).toBe(1);
    expect(await billingMessages()).toBe(before);
  });

  it('runs a command without an idempotency key every time it is sent as a new message, and answers each', async () => {
    const command: ChargeCommand = { customer: 'c-8', cents: 50, behaviour: 'ok', note: 'unkeyed' };
    const first = await send(command, { replyTo: REPLY_TYPE });
    const second = await send(command, { replyTo: REPLY_TYPE });

    for (const sent of [first, second]) {
      const reply = await replyTo(sent);
      expect(reply.data).toEqual({ outcome: 'ok', data: { charged: 50, customer: 'c-8' } });
      expect(reply).not.toHaveProperty('idempotencykey');
      expect(reply).not.toHaveProperty('correlationid');
    }
    expect(calls.get('unkeyed')).toBe(2);
    expect(await effects('unkeyed')).toBe(2);
  });
});
