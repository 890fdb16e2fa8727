import { describe, expect, it } from 'vitest';
import { RetryableError, TerminalError } from '../core/errors.js';
import { noFaults } from '../ports/fault-points.js';
import { defineSaga } from './define-saga.js';
import { callSagaAction } from './saga-call.js';
import type { StepContext } from './saga-definition.js';
import { initialSnapshot } from './saga-snapshot.js';
import type { SagaAction } from './saga-state-machine.js';

const SAGA_ID = '0190aaaa-0000-7000-8000-000000000001';

/** Calls step 'a' (or its compensation) of a one-step saga whose action is `action`. */
function call(
  action: (context: StepContext<unknown, object>) => unknown,
  options: { timeoutMs?: number; undo?: boolean; abandon?: AbortSignal } = {},
) {
  const definition = defineSaga('calls', 1)
    .step('a', { action, compensate: action, timeoutMs: options.timeoutMs ?? 5_000 })
    .build();
  const planned: SagaAction = {
    kind: options.undo ? 'run-compensation' : 'run-step',
    step: 'a',
    attempt: 2,
    idempotencyKey: `${SAGA_ID}:a${options.undo ? ':compensate' : ''}`,
    timeoutMs: options.timeoutMs ?? 5_000,
    reissue: false,
  };
  return callSagaAction({
    sagaId: SAGA_ID,
    definition,
    snapshot: initialSnapshot(definition, { customer: 'c' }, new Date()),
    input: { customer: 'c' },
    action: planned,
    abandon: options.abandon ?? new AbortController().signal,
    faults: noFaults,
  });
}

describe('one call of a saga step', () => {
  it('gives the action its context and records its output as JSON', async () => {
    let seen: StepContext<unknown, object> | undefined;
    const result = await call((context) => {
      seen = context;
      return { charged: 5, at: new Date(0), skipped: undefined };
    });
    expect(seen).toMatchObject({ sagaId: SAGA_ID, step: 'a', attempt: 2, idempotencyKey: `${SAGA_ID}:a` });
    expect(seen?.input).toEqual({ customer: 'c' });
    expect(result.event).toEqual({
      kind: 'step-succeeded',
      step: 'a',
      attempt: 2,
      output: { charged: 5, at: '1970-01-01T00:00:00.000Z' },
    });
  });

  it('times out an attempt that does not end, aborting its signal', async () => {
    let signal: AbortSignal | undefined;
    const result = await call(
      (context) => {
        signal = context.signal;
        return new Promise(() => {});
      },
      { timeoutMs: 20 },
    );
    expect(result.event).toEqual({ kind: 'step-timed-out', step: 'a', attempt: 2 });
    expect(signal?.aborted).toBe(true);
    expect(signal?.reason).toMatchObject({ name: 'StepTimeoutError' });
  });

  it('reports a TerminalError as not retryable, and a RetryableError with its Retry-After', async () => {
    const refused = await call(() => {
      throw new TerminalError('card declined');
    });
    expect(refused.event).toMatchObject({
      kind: 'step-failed',
      retryable: false,
      error: { errorClass: 'TerminalError', message: 'card declined' },
    });
    const busy = await call(
      () => {
        throw new RetryableError('busy', { retryAfterMs: 700 });
      },
      { undo: true },
    );
    expect(busy.event).toMatchObject({ kind: 'compensation-failed', retryable: true, retryAfterMs: 700 });
  });

  it('has no result when the saga is given up meanwhile, and aborts the call', async () => {
    const abandon = new AbortController();
    let signal: AbortSignal | undefined;
    const result = call(
      (context) => {
        signal = context.signal;
        setTimeout(() => abandon.abort(new Error('fenced')), 5);
        return new Promise(() => {});
      },
      { abandon: abandon.signal },
    );
    expect((await result).event).toBeNull();
    expect(signal?.aborted).toBe(true);
  });
});
