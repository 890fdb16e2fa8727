import { ConvergeError } from '../../core/errors.js';
import { backoffDelayMs, type RetryPolicy } from '../../core/retry-policy.js';
import type { ListenerConnection } from './pg-connection.js';
import type { PgEventListener, PgNotificationLike } from './pg-like.js';

const RECONNECT_POLICY: RetryPolicy = Object.freeze({
  maxAttempts: Number.POSITIVE_INFINITY,
  initialDelayMs: 100,
  maxDelayMs: 10_000,
  multiplier: 2,
});

/** Quotes an identifier for SQL (`LISTEN "converge_outbox"`), doubling embedded quotes. */
export function quoteIdentifier(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/**
 * Keeps one connection `LISTEN`ing on a channel and calls `onNotify` for each notification.
 *
 * States: connecting → listening → (connection lost) → waiting to reconnect (exponential backoff
 * with jitter) → connecting … → stopped. After a reconnect it calls `onNotify` once, since
 * notifications sent while it was disconnected are lost and the listener should look for work.
 * `stop` clears the reconnect timer and ends the connection, so nothing keeps the process alive.
 */
export class PostgresListener {
  readonly #open: () => Promise<ListenerConnection>;
  readonly #channel: string;
  readonly #onNotify: () => void;
  #current: { connection: ListenerConnection; detach: () => void } | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #attempt = 0;
  #stopped = false;

  constructor(open: () => Promise<ListenerConnection>, channel: string, onNotify: () => void) {
    this.#open = open;
    this.#channel = channel;
    this.#onNotify = onNotify;
  }

  /**
   * Connects and starts listening.
   * @throws ConvergeError `POSTGRES_LISTEN_FAILED` when the first connection or `LISTEN` fails.
   */
  async start(): Promise<void> {
    try {
      this.#current = await this.#connect();
    } catch (cause) {
      throw new ConvergeError(
        'POSTGRES_LISTEN_FAILED',
        `Cannot listen on PostgreSQL channel '${this.#channel}': ${(cause as Error).message}. Check the connection; without notifications, poll instead.`,
        { cause },
      );
    }
  }

  /** Stops listening: `UNLISTEN`, then ends or returns the connection. Safe to call twice. */
  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    const current = this.#current;
    this.#current = undefined;
    if (current === undefined) return;
    current.detach();
    try {
      await current.connection.client.query(`UNLISTEN ${quoteIdentifier(this.#channel)}`);
    } catch (error) {
      await current.connection.close(error as Error);
      return;
    }
    await current.connection.close();
  }

  async #connect(): Promise<{ connection: ListenerConnection; detach: () => void }> {
    const connection = await this.#open();
    const client = connection.client;
    if (client.on === undefined || client.removeListener === undefined) {
      await connection.close();
      throw new Error(
        'the pool\'s clients do not emit events (no "on"), so they cannot receive notifications',
      );
    }
    const onNotification = (message: PgNotificationLike): void => {
      if (message.channel === this.#channel) this.#notify();
    };
    const onLost = (error?: Error): void => this.#lost(connection, error);
    client.on('notification', onNotification as PgEventListener);
    client.on('error', onLost as PgEventListener);
    client.on('end', onLost as PgEventListener);
    const detach = (): void => {
      client.removeListener?.('notification', onNotification as PgEventListener);
      client.removeListener?.('error', onLost as PgEventListener);
      client.removeListener?.('end', onLost as PgEventListener);
    };
    try {
      await client.query(`LISTEN ${quoteIdentifier(this.#channel)}`);
    } catch (error) {
      detach();
      await connection.close(error as Error);
      throw error;
    }
    return { connection, detach };
  }

  #lost(connection: ListenerConnection, error: Error | undefined): void {
    const current = this.#current;
    if (current === undefined || current.connection !== connection) return;
    this.#current = undefined;
    current.detach();
    void connection.close(error ?? new Error('the listening connection ended'));
    if (!this.#stopped) this.#scheduleReconnect();
  }

  #scheduleReconnect(): void {
    this.#attempt += 1;
    this.#timer = setTimeout(
      () => {
        this.#timer = undefined;
        void this.#reconnect();
      },
      backoffDelayMs(RECONNECT_POLICY, this.#attempt),
    );
  }

  async #reconnect(): Promise<void> {
    if (this.#stopped) return;
    let next: { connection: ListenerConnection; detach: () => void };
    try {
      next = await this.#connect();
    } catch {
      if (!this.#stopped) this.#scheduleReconnect();
      return;
    }
    if (this.#stopped) {
      next.detach();
      await next.connection.close();
      return;
    }
    this.#current = next;
    this.#attempt = 0;
    this.#notify();
  }

  #notify(): void {
    try {
      this.#onNotify();
    } catch {
      // A failing callback must not break the listener; the callback owns its errors.
    }
  }
}
