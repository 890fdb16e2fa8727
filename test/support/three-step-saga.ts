/**
 * The saga of the orchestrator tests: three steps (`profile`, `contract`, `billing`), each an
 * HTTP call to its participant's `/apply`, compensated by `/undo` (see saga-participants.ts).
 * Retries are quick so that tests do not wait on backoffs.
 */
import { defineSaga, httpCall, type SagaDefinition } from '../../packages/core/src/index.js';
import type { SagaParticipant, StepScript } from './saga-participants.js';

export const STEPS = ['profile', 'contract', 'billing'] as const;
export type StepName = (typeof STEPS)[number];

export interface TestSagaInput {
  readonly customer: string;
  /** What each step's participant does (see `StepScript`); absent: it applies the effect. */
  readonly script?: Partial<Record<StepName, StepScript>>;
}

export interface ThreeStepOptions {
  readonly name?: string;
  readonly version?: number;
  /** Each attempt's timeout. Default 5000. */
  readonly timeoutMs?: number;
  readonly maxAttempts?: number;
}

export function threeStepSaga(
  participants: readonly SagaParticipant[],
  options: ThreeStepOptions = {},
): SagaDefinition<TestSagaInput> {
  const retry = { maxAttempts: options.maxAttempts ?? 3, initialDelayMs: 20, maxDelayMs: 100 };
  const timeoutMs = options.timeoutMs ?? 5_000;
  let builder = defineSaga(options.name ?? 'three-step', options.version ?? 1).input<TestSagaInput>(
    (input) => {
      const value = input as TestSagaInput;
      if (typeof value?.customer !== 'string') throw new Error("'customer' must be a string");
      return value;
    },
  );
  STEPS.forEach((step, i) => {
    const participant = participants[i]!;
    builder = builder.step(step, {
      action: httpCall<TestSagaInput, object>({
        url: `${participant.url}/apply`,
        body: (c) => ({ sagaId: c.sagaId, step, script: c.input.script?.[step] }),
      }),
      compensate: httpCall<TestSagaInput, object>({
        url: `${participant.url}/undo`,
        body: (c) => ({ sagaId: c.sagaId, step }),
      }),
      retry,
      timeoutMs,
      compensationRetry: retry,
      compensationTimeoutMs: timeoutMs,
    }) as typeof builder;
  });
  return builder.build();
}
