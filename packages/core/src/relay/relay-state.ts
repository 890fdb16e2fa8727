import type { RelayRecord } from '../ports/outbox-store.js';

/** What a relay's last heartbeat says about it. */
export const RelayState = Object.freeze({
  /** Its last heartbeat is at most `RELAY_SILENT_AFTER_INTERVALS` heartbeat intervals old. */
  running: 'running',
  /** No clean stop, and no heartbeat for longer: killed, hung, or cut off from the database. */
  silent: 'silent',
  /** It stopped cleanly (`relay.stop()`). */
  stopped: 'stopped',
} as const);
export type RelayState = (typeof RelayState)[keyof typeof RelayState];

/** How many missed heartbeat intervals make a relay silent. */
export const RELAY_SILENT_AFTER_INTERVALS = 3;

/**
 * The state of `relay` as of `observedAt` (the clock its heartbeat was stamped with, see
 * `RelayList.observedAt`).
 *
 * @example relayState(record, list.observedAt) // 'running'
 */
export function relayState(relay: RelayRecord, observedAt: Date): RelayState {
  if (relay.stoppedAt !== null) return RelayState.stopped;
  const ageMs = observedAt.getTime() - relay.heartbeatAt.getTime();
  return ageMs <= RELAY_SILENT_AFTER_INTERVALS * relay.heartbeatIntervalMs
    ? RelayState.running
    : RelayState.silent;
}
