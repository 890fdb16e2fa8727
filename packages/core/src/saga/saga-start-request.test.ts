import { describe, expect, it } from 'vitest';
import { SAGA_START_REQUESTED, sagaStartRequest } from './saga-start-request.js';

describe('sagaStartRequest', () => {
  it('builds the outbox message keyed by the idempotency key, and refuses a request no saga could take', () => {
    expect(sagaStartRequest({ saga: 'onboarding', input: { user: 'ada' }, idempotencyKey: 'k' })).toEqual({
      type: SAGA_START_REQUESTED,
      key: 'k',
      data: { saga: 'onboarding', input: { user: 'ada' }, idempotencyKey: 'k' },
    });
    expect(() => sagaStartRequest({ saga: 'on boarding', input: 1, idempotencyKey: 'k' })).toThrow(
      /'saga' "on boarding" is not a saga name/,
    );
    expect(() => sagaStartRequest({ saga: 'onboarding', input: 1, idempotencyKey: '' })).toThrow(
      /'idempotencyKey' must be a string of 1-255 characters/,
    );
  });
});
