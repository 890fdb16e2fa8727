/**
 * One producer database with an outbox, a switchable transport and the relays a test starts, for
 * the relay tests on each backend. `cleanup()` undoes whatever a failed test left behind.
 */
import {
  createOutbox,
  createRelay,
  type Envelope,
  type Outbox,
  type Relay,
  type RelayOptions,
  type Storage,
} from '../../packages/core/src/index.js';
import type { Backend } from './backends.js';
import { createSwitchableTransport, type SwitchableTransport, within } from './relay-probes.js';

/** Longest a relay's `stop()` may take in cleanup before the test fails. */
const STOP_BOUND_MS = 10_000;

export interface RelayTestbed {
  readonly storage: Storage;
  readonly outbox: Outbox;
  readonly transport: SwitchableTransport;
  /** Creates and starts a relay on `storage` and `transport` (unless `options` replace them); cleanup stops it. */
  startRelay(options?: Partial<RelayOptions>): Promise<Relay>;
  /** Appends one message per key, in one committed transaction. */
  append(...keys: string[]): Promise<Envelope[]>;
  /**
   * Releases held publishes (a held batch keeps a connection checked out, and closing the pool
   * would wait for it), stops every relay, and closes the databases even when a stop fails.
   */
  cleanup(): Promise<void>;
}

/** Opens a fresh producer database on `backend`; `defaults` go to every `startRelay`. */
export async function openRelayTestbed(
  backend: Backend,
  defaults: Partial<RelayOptions> = {},
): Promise<RelayTestbed> {
  const databases = (await backend.create())!;
  const storage = await databases.open('producer');
  const outbox = createOutbox({ storage, source: 'customer-profile' });
  const transport = createSwitchableTransport();
  const relays: Relay[] = [];
  return {
    storage,
    outbox,
    transport,
    async startRelay(options = {}) {
      const relay = createRelay({ storage, transport, ...defaults, ...options });
      relays.push(relay);
      await relay.start();
      return relay;
    },
    append: (...keys) =>
      storage.transaction((tx) =>
        outbox.append(
          tx,
          keys.map((key) => ({ type: 'customer.unsubscribed', key, data: { customerId: key } })),
        ),
      ),
    async cleanup() {
      transport.releaseAll();
      const stops = await Promise.allSettled(
        relays.map((relay) =>
          within(`relay ${relay.relayId}.stop() in cleanup`, STOP_BOUND_MS, relay.stop()),
        ),
      );
      await databases.cleanup();
      for (const stop of stops) if (stop.status === 'rejected') throw stop.reason;
    },
  };
}
