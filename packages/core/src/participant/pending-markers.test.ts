import { describe, expect, it } from 'vitest';
import { sagaCallOf } from './pending-markers.js';

describe('sagaCallOf', () => {
  it("reads the saga and step of an orchestrator call's key, and nothing from any other key", () => {
    const sagaId = '0190a5c4-6c2e-7b4e-9a4b-2f4d8c1e0a11';
    expect(sagaCallOf(`${sagaId}:billing`)).toEqual({ sagaId, step: 'billing', compensation: false });
    expect(sagaCallOf(`${sagaId}:billing:compensate`)).toEqual({
      sagaId,
      step: 'billing',
      compensation: true,
    });
    for (const other of [
      undefined,
      null,
      '',
      'order-42',
      `${sagaId}:`,
      `${sagaId}:bill ing`,
      `${sagaId}:billing:undo`,
      `${sagaId}:a:compensate:x`,
    ])
      expect(sagaCallOf(other)).toBeUndefined();
  });
});
