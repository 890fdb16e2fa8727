import type { RelayHeartbeat } from '../ports/outbox-store.js';

/**
 * A heartbeat of relay `relayId`, running, that published nothing and never failed, with a 5 s
 * interval; `fields` change any of it. For tests that write a relay's row straight into storage.
 *
 * @example await storage.outbox.recordHeartbeat(relayHeartbeat('relay-1', { consecutiveFailures: 3 }));
 */
export function relayHeartbeat(relayId: string, fields: Partial<RelayHeartbeat> = {}): RelayHeartbeat {
  return {
    relayId,
    host: 'host-a',
    pid: 4242,
    heartbeatIntervalMs: 5_000,
    startedAt: new Date(Date.now() - 60_000),
    published: 0,
    lastPublishedAt: null,
    consecutiveFailures: 0,
    lastError: null,
    lastErrorAt: null,
    stopped: false,
    ...fields,
  };
}
