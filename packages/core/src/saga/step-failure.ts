import { describeError, isRetryableError, isTerminalError } from '../core/errors.js';
import type { NonRetryablePredicate } from './saga-definition.js';
import type { ReportedError } from './saga-event.js';

/** How a thrown error is reported in a `step-failed` or `compensation-failed` event. */
export interface StepFailure {
  readonly error: ReportedError;
  readonly retryable: boolean;
  readonly retryAfterMs: number | undefined;
}

/**
 * Classifies what an action or compensation threw: a `TerminalError`, or an error `nonRetryable`
 * matches, is not retryable; anything else is (an unknown error may well be transient, and the
 * retry policy bounds the cost). A `RetryableError`'s `retryAfterMs` is passed on.
 *
 * @example
 * const failure = stepFailure(error, step.nonRetryable);
 * applyEvent(snapshot, { kind: 'step-failed', step: step.name, attempt, ...failure }, definition, now);
 */
export function stepFailure(error: unknown, nonRetryable: NonRetryablePredicate = () => false): StepFailure {
  const { errorClass, message } = describeError(error);
  const terminal = isTerminalError(error) || safely(nonRetryable, error);
  const retryAfterMs = !terminal && isRetryableError(error) ? error.retryAfterMs : undefined;
  return { error: { errorClass, message }, retryable: !terminal, retryAfterMs };
}

/** A predicate that throws is a bug in the definition; treating the error as retryable is the safe side. */
function safely(predicate: NonRetryablePredicate, error: unknown): boolean {
  try {
    return predicate(error) === true;
  } catch {
    return false;
  }
}
