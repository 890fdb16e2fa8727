/**
 * What can happen to a saga instance. Each event is one transition: `applyEvent` turns it into the
 * new snapshot and exactly one `SagaStore.record` (or, for an operator's action, `intervene`)
 * write, whose log entry's `kind` is the event's `kind`.
 */

/** An error as the orchestrator reports it (see `stepFailure`). */
export interface ReportedError {
  readonly errorClass: string;
  readonly message: string;
}

/** The orchestrator is about to call a step's action (`run-step`): recorded before the call. */
export interface StepStartedEvent {
  readonly kind: 'step-started';
  readonly step: string;
  /** The token of the orchestrator's lease, so that a later holder can tell the attempt was orphaned. */
  readonly fencingToken: number;
}

/** The action's attempt returned. */
export interface StepSucceededEvent {
  readonly kind: 'step-succeeded';
  readonly step: string;
  readonly attempt: number;
  /** The action's result, JSON-serialisable. */
  readonly output: unknown;
}

/** The action's attempt threw. */
export interface StepFailedEvent {
  readonly kind: 'step-failed';
  readonly step: string;
  readonly attempt: number;
  readonly error: ReportedError;
  /** False for a `TerminalError` or an error the step's `nonRetryable` matches: no more attempts. */
  readonly retryable: boolean;
  /** The participant's Retry-After, replacing the policy's backoff for this retry. */
  readonly retryAfterMs?: number | undefined;
}

/** The action's attempt did not finish within the step's `timeoutMs` (a retryable failure). */
export interface StepTimedOutEvent {
  readonly kind: 'step-timed-out';
  readonly step: string;
  readonly attempt: number;
}

/** The orchestrator is about to call a step's compensation (`run-compensation`). */
export interface CompensationStartedEvent {
  readonly kind: 'compensation-started';
  readonly step: string;
  readonly fencingToken: number;
}

/** The compensation's attempt returned. */
export interface CompensationSucceededEvent {
  readonly kind: 'compensation-succeeded';
  readonly step: string;
  readonly attempt: number;
}

/** The compensation's attempt threw. */
export interface CompensationFailedEvent {
  readonly kind: 'compensation-failed';
  readonly step: string;
  readonly attempt: number;
  readonly error: ReportedError;
  readonly retryable: boolean;
  readonly retryAfterMs?: number | undefined;
}

/** The compensation's attempt did not finish within its `timeoutMs` (a retryable failure). */
export interface CompensationTimedOutEvent {
  readonly kind: 'compensation-timed-out';
  readonly step: string;
  readonly attempt: number;
}

/** The operators' actions, audited with who and why. */
export const OperatorActionKind = {
  /** Go on after a compensation gave up: try the failed compensations again, with fresh retries. */
  RESUME: 'resume',
  /** Run the failed step forward again, with fresh retries (only before anything was undone). */
  RETRY: 'retry',
  /** Stop going forward and undo the completed steps now. */
  COMPENSATE: 'compensate',
  /** End the saga as `failed` now, undoing nothing. */
  CANCEL: 'cancel',
} as const;
export type OperatorActionKind = (typeof OperatorActionKind)[keyof typeof OperatorActionKind];

/** An operator's action. */
export interface OperatorEvent {
  readonly kind: OperatorActionKind;
  /** Who: a user name, or `cli:<user>@<host>`. */
  readonly actor: string;
  /** Why, in words; required. */
  readonly reason: string;
}

/**
 * The saga has nothing left to do but end: an operator's `compensate` (applied without the
 * definition) left it `compensating` with no step that has a compensation to run. The
 * orchestrator, which has the definition, records it when `nextActions` says `settle`.
 */
export interface SagaSettledEvent {
  readonly kind: 'saga-settled';
}

/** Every event `applyEvent` takes. */
export type SagaEvent =
  | SagaSettledEvent
  | StepStartedEvent
  | StepSucceededEvent
  | StepFailedEvent
  | StepTimedOutEvent
  | CompensationStartedEvent
  | CompensationSucceededEvent
  | CompensationFailedEvent
  | CompensationTimedOutEvent
  | OperatorEvent;
