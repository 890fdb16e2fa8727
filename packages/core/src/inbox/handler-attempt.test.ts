import { describe, expect, it } from 'vitest';
import { draftToEnvelope, type Envelope } from '../core/envelope.js';
import type { Transaction } from '../ports/storage.js';
import { HandlerTimeoutError, isHandlerTimeout, runHandlerAttempt } from './handler-attempt.js';

/** A transaction that stays open and records what reached it. */
function recordingTransaction(): { tx: Transaction; statements: string[] } {
  const statements: string[] = [];
  const tx: Transaction = {
    isTransaction: true,
    raw: null,
    async query(sql) {
      statements.push(sql);
      return [];
    },
    async execute(sql) {
      statements.push(sql);
      return 1;
    },
  };
  return { tx, statements };
}

const envelope: Envelope = {
  ...draftToEnvelope({ type: 'order.placed', key: 'k', data: {} }, 0, 'orders', new Date()),
  id: '0190a8f0-0000-7000-8000-000000000001',
  sequence: 3,
};

const gate = () => {
  let open = () => {};
  const opened = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { open, opened };
};

describe('runHandlerAttempt', () => {
  it('gives up on a handler past its time, and fences its tx while the transaction is still open', async () => {
    const { tx, statements } = recordingTransaction();
    const { open, opened } = gate();
    let late: Promise<number> | undefined;
    const attempt = runHandlerAttempt(
      async (_message, handle) => {
        await handle.execute('INSERT early');
        await opened;
        late = handle.execute('INSERT late');
        await late;
      },
      tx,
      { consumer: 'billing', envelope, timeoutMs: 5 },
    );
    const error = await attempt.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(HandlerTimeoutError);
    expect(isHandlerTimeout(error)).toBe(true);
    expect((error as Error).message).toMatch(
      /Consumer 'billing': the handler of message 0190a8f0-0000-7000-8000-000000000001 \(type 'order.placed', key 'k', sequence 3\) did not finish within 5 ms/,
    );
    open();
    await new Promise((resolve) => setImmediate(resolve));
    await expect(late).rejects.toMatchObject({ code: 'TRANSACTION_CLOSED' });
    expect(statements).toEqual(['INSERT early']);
  });

  it('fences the tx once the handler returned, so a statement it did not await cannot run later', async () => {
    const { tx, statements } = recordingTransaction();
    const { open, opened } = gate();
    let leaked: Promise<number> | undefined;
    await runHandlerAttempt(
      async (_message, handle) => {
        leaked = opened.then(() => handle.execute('INSERT leaked'));
      },
      tx,
      { consumer: 'billing', envelope, timeoutMs: false },
    );
    open();
    await expect(leaked).rejects.toMatchObject({
      code: 'TRANSACTION_CLOSED',
      message: expect.stringContaining('it has returned'),
    });
    expect(statements).toEqual([]);
  });

  it("passes the handler's own error through, even one thrown before its first await", async () => {
    const { tx } = recordingTransaction();
    const boom = new Error('boom');
    const handler = (() => {
      throw boom;
    }) as unknown as (message: Envelope, tx: Transaction) => Promise<void>;
    await expect(runHandlerAttempt(handler, tx, { consumer: 'c', envelope, timeoutMs: 1000 })).rejects.toBe(
      boom,
    );
  });
});
