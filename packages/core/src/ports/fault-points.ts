/**
 * Named places where a crash is most dangerous. Engines call `faults.reach(name)` there; tests
 * pass an implementation that kills the process at a chosen point. In production there is none
 * (a no-op).
 */
export const FaultPoint = {
  /** The producer's business transaction (with its outbox rows) has committed. */
  AFTER_BUSINESS_COMMIT: 'after-business-commit',
  /** The relay published a batch; the rows are not yet marked published. */
  AFTER_PUBLISH_BEFORE_MARK: 'after-publish-before-mark',
  /** The consumer committed its handler's transaction; the transport is not yet acknowledged. */
  AFTER_HANDLER_COMMIT_BEFORE_ACK: 'after-handler-commit-before-ack',
  /** A participant committed its effect with the idempotency key; the HTTP response is not yet written. */
  AFTER_PARTICIPANT_COMMIT_BEFORE_RESPONSE: 'after-participant-commit-before-response',
  /**
   * A saga orchestrator is about to record that it starts a step's attempt (nothing of it persisted
   * yet). After the first step, that write also records the previous step's result, which is then
   * not persisted either: a crash here leaves the previous attempt in flight.
   */
  SAGA_BEFORE_STEP_STARTED: 'saga-before-step-started',
  /** The orchestrator recorded the attempt as started (with the previous step's result, after the first); the participant is not yet called. */
  SAGA_AFTER_STEP_STARTED: 'saga-after-step-started',
  /** The participant answered the step's call; its result is not yet recorded. */
  SAGA_AFTER_CALL_BEFORE_RESULT: 'saga-after-call-before-result',
  /** A compensation's call was answered; its result is not yet recorded (the middle of undoing). */
  SAGA_MID_COMPENSATION: 'saga-mid-compensation',
} as const;
export type FaultPoint = (typeof FaultPoint)[keyof typeof FaultPoint];

export interface FaultInjector {
  reach(point: FaultPoint): void;
}

/** The injector used when none is given. */
export const noFaults: FaultInjector = Object.freeze({ reach() {} });
