/**
 * One call of a consumer's handler: with a time limit, and with a transaction handle that is
 * fenced off once the attempt is over.
 *
 * Invariant: a handler's statements run in the consumer's transaction only while its attempt
 * lasts. JavaScript cannot stop a running promise, so a handler that is still busy when its time
 * is up keeps running; the inbox rolls its writes back (to the savepoint, or with the whole
 * optimistic batch) and goes on. From then on every `query`/`execute` on the handle it was given
 * rejects with `TRANSACTION_CLOSED`, so the abandoned handler cannot write into the rest of the
 * batch — nor, on SQLite, where one connection runs every transaction, into the next one. The
 * fence closes when the attempt ends in any way (success too), so a promise a handler left behind
 * is caught the same way. What the fence cannot catch: statements sent through `tx.raw` (the
 * driver's own connection), and effects outside the database (docs/guarantees.md, limit 7).
 */
import type { Envelope } from '../core/envelope.js';
import { ConvergeError, RetryableError } from '../core/errors.js';
import type { Transaction } from '../ports/storage.js';

/** The handler took longer than `handlerTimeoutMs`; a failed attempt, retried like any other. */
export class HandlerTimeoutError extends RetryableError {
  override readonly name: string = 'HandlerTimeoutError';
  readonly timeoutMs: number;
  constructor(message: string, timeoutMs: number) {
    super(message, { code: 'HANDLER_TIMEOUT', details: { timeoutMs } });
    this.timeoutMs = timeoutMs;
  }
}

/** True for a `HandlerTimeoutError` (by its code, so it holds across package copies). */
export function isHandlerTimeout(error: unknown): error is HandlerTimeoutError {
  return (
    typeof error === 'object' && error !== null && (error as { code?: unknown }).code === 'HANDLER_TIMEOUT'
  );
}

export interface HandlerAttempt {
  readonly consumer: string;
  readonly envelope: Envelope;
  /** Milliseconds before the attempt is abandoned; false: no limit. */
  readonly timeoutMs: number | false;
}

/**
 * Runs `handler(envelope, fenced tx)`; resolves when it settles or when its time is up, whichever
 * comes first, and rejects with the handler's error or a `HandlerTimeoutError`. Either way the
 * fenced handle refuses statements from then on.
 */
export async function runHandlerAttempt(
  handler: (message: Envelope, tx: Transaction) => Promise<void>,
  tx: Transaction,
  attempt: HandlerAttempt,
): Promise<void> {
  let over: string | null = null;
  const fenced = fence(tx, () => over);
  // Inside an async function, so a handler that throws before its first await still rejects.
  const running = (async () => handler(attempt.envelope, fenced))();
  if (attempt.timeoutMs === false) {
    try {
      await running;
    } finally {
      over = 'it has returned';
    }
    return;
  }
  const timeoutMs = attempt.timeoutMs;
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      over = `it timed out after ${timeoutMs} ms`;
      reject(timeoutError(attempt, timeoutMs));
    }, timeoutMs);
  });
  // The abandoned handler may still reject later (the fence makes that likely): never unhandled.
  running.catch(() => undefined);
  try {
    await Promise.race([running, expired]);
  } finally {
    clearTimeout(timer);
    over ??= 'it has returned';
  }
}

function timeoutError(attempt: HandlerAttempt, timeoutMs: number): HandlerTimeoutError {
  const { envelope, consumer } = attempt;
  return new HandlerTimeoutError(
    `Consumer '${consumer}': the handler of message ${envelope.id} (type '${envelope.type}', key '${envelope.subject}', sequence ${envelope.sequence}) did not finish within ${timeoutMs} ms; its writes were rolled back. Make the handler faster, or raise handlerTimeoutMs.`,
    timeoutMs,
  );
}

/** A handle on `tx` that rejects every statement once `over()` names why the attempt ended. */
function fence(tx: Transaction, over: () => string | null): Transaction {
  const check = () => {
    const why = over();
    if (why === null) return;
    throw new ConvergeError(
      'TRANSACTION_CLOSED',
      `This handler's attempt is over (${why}), so its transaction handle runs no more statements; stop using it when the handler returns, and await every statement.`,
    );
  };
  return Object.freeze({
    isTransaction: true as const,
    raw: tx.raw,
    async query<Row = Record<string, unknown>>(sql: string, params?: readonly unknown[]): Promise<Row[]> {
      check();
      return tx.query<Row>(sql, params);
    },
    async execute(sql: string, params?: readonly unknown[]): Promise<number> {
      check();
      return tx.execute(sql, params);
    },
  });
}
