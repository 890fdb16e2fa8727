import { describe, expect, it } from 'vitest';
import { relayHeartbeat } from '../testing/relay-heartbeat-fixture.js';
import { RELAY_SILENT_AFTER_INTERVALS, RelayState, relayState } from './relay-state.js';

const observedAt = new Date('2026-06-01T12:00:00.000Z');
const record = (heartbeatAgeMs: number, stoppedAt: Date | null = null) => {
  const { stopped: _, ...beat } = relayHeartbeat('r1', { heartbeatIntervalMs: 5_000 });
  return { ...beat, heartbeatAt: new Date(observedAt.getTime() - heartbeatAgeMs), stoppedAt };
};

describe('relayState', () => {
  it('is running up to three heartbeat intervals after the last heartbeat, silent after that', () => {
    expect(RELAY_SILENT_AFTER_INTERVALS).toBe(3);
    expect(relayState(record(0), observedAt)).toBe(RelayState.running);
    expect(relayState(record(15_000), observedAt)).toBe(RelayState.running);
    expect(relayState(record(15_001), observedAt)).toBe(RelayState.silent);
  });

  it('is stopped after a clean stop, however old the heartbeat', () => {
    expect(relayState(record(0, observedAt), observedAt)).toBe(RelayState.stopped);
    expect(relayState(record(86_400_000, observedAt), observedAt)).toBe(RelayState.stopped);
  });
});
