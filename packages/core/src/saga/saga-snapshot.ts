/**
 * The state of one saga instance as the state machine keeps it: plain JSON (times as ISO strings),
 * stored by the `SagaStore` as the instance's opaque `snapshot`. See saga-state-machine.ts for what
 * the statuses mean and how they change.
 */
import { SagaStatus } from '../ports/saga-store.js';
import type { SagaDefinition } from './saga-definition.js';

/** Where one step stands. */
export const StepStatus = {
  /** Not run yet, or waiting (`retryAt`) for its next attempt. */
  PENDING: 'pending',
  /** An attempt of the action was started (`inFlight`) and no result is recorded yet. */
  RUNNING: 'running',
  /** The action succeeded; `output` holds its result. */
  SUCCEEDED: 'succeeded',
  /** The action failed for good: after its retries, with a non-retryable error, or while the saga was undoing. */
  FAILED: 'failed',
  /** Being undone: a compensation attempt is in flight (`inFlight`), or waits (`retryAt`) for the next. */
  COMPENSATING: 'compensating',
  /** The compensation succeeded. */
  COMPENSATED: 'compensated',
  /** The compensation failed for good; the saga needs attention. */
  COMPENSATION_FAILED: 'compensation-failed',
} as const;
export type StepStatus = (typeof StepStatus)[keyof typeof StepStatus];

/** An error as recorded: its class, message, and whether it was worth retrying. */
export interface StepError {
  readonly errorClass: string;
  readonly message: string;
  readonly retryable: boolean;
}

/** The attempt that was started and has no result yet. */
export interface InFlightAttempt {
  readonly attempt: number;
  /** The fencing token of the orchestrator that started it: another token means it was orphaned by a takeover. */
  readonly fencingToken: number;
  readonly startedAt: string;
  /** When the attempt's time is up (start + the step's or compensation's `timeoutMs`). */
  readonly deadline: string;
}

/** One step's state. */
export interface StepSnapshot {
  readonly status: StepStatus;
  /**
   * The service the step calls (the definition's `service`), so that a stored saga tells which
   * services it spanned without its definition. Null when not given; absent in snapshots stored
   * before Converge recorded it (read it as null).
   */
  readonly service: string | null;
  /** Action attempts started, re-issues included. */
  readonly attempts: number;
  /** Failed action attempts since the start or the last operator `retry`: what the retry policy counts. */
  readonly failures: number;
  readonly compensationAttempts: number;
  /** Failed compensation attempts since the compensation began or the last operator `resume`/`compensate`. */
  readonly compensationFailures: number;
  readonly inFlight: InFlightAttempt | null;
  /** Not before this time is the next attempt made (a backoff, or a participant's Retry-After). */
  readonly retryAt: string | null;
  readonly lastError: StepError | null;
  /** The action's output (JSON), null until it succeeded. */
  readonly output: unknown;
  readonly succeededAt: string | null;
  readonly compensatedAt: string | null;
}

/** The state of a saga instance. */
export interface SagaSnapshot {
  /** The snapshot's layout version. */
  readonly format: 1;
  readonly name: string;
  readonly version: number;
  readonly status: SagaStatus;
  /** By step name, in the definition's order. */
  readonly steps: Readonly<Record<string, StepSnapshot>>;
  /** The step whose failure started the undoing, and its error; null when an operator asked for it or nothing failed. */
  readonly failure: { readonly step: string; readonly error: StepError } | null;
  /** The steps whose compensation succeeded, in the order they were undone. */
  readonly undone: readonly string[];
  /** Why the saga waits for a human (`needs-attention`) or ended as `failed`; null otherwise. */
  readonly reason: string | null;
  readonly startedAt: string;
  readonly updatedAt: string;
}

/** A step that has not run. */
export const PENDING_STEP: StepSnapshot = Object.freeze({
  status: StepStatus.PENDING,
  service: null,
  attempts: 0,
  failures: 0,
  compensationAttempts: 0,
  compensationFailures: 0,
  inFlight: null,
  retryAt: null,
  lastError: null,
  output: null,
  succeededAt: null,
  compensatedAt: null,
});

/**
 * The snapshot of a new instance of `definition`: `running`, every step pending with its service. Checks `input`
 * with the definition's validator first (the orchestrator stores the input as given, and each call
 * gets `definition.parseInput(storedInput)`).
 *
 * @throws ConvergeError `SAGA_INPUT_INVALID` when the validator rejects the input.
 */
export function initialSnapshot(definition: SagaDefinition, input: unknown, now: Date): SagaSnapshot {
  definition.parseInput(input);
  const at = now.toISOString();
  return {
    format: 1,
    name: definition.name,
    version: definition.version,
    status: SagaStatus.RUNNING,
    steps: Object.fromEntries(
      definition.steps.map((step) => [step.name, { ...PENDING_STEP, service: step.service }]),
    ),
    failure: null,
    undone: [],
    reason: null,
    startedAt: at,
    updatedAt: at,
  };
}
