/**
 * What a saga is, as data: its name and version, its steps in order (some grouped to run at once),
 * and for each step an action, an optional compensation, a retry policy and a timeout. Built by
 * `defineSaga` (define-saga.ts); read by the state machine (saga-state-machine.ts) and by the
 * orchestrator that calls the actions.
 */
import type { RetryPolicy } from '../core/retry-policy.js';

/** The outputs of earlier steps, by step name. */
export type StepOutputs = Readonly<Record<string, unknown>>;

/**
 * What a step's action is given. `idempotencyKey` is `<sagaId>:<step>`: the same on every attempt
 * and after any takeover, so a participant that records it with its effect applies the effect
 * once however often the call is repeated. `signal` aborts when the attempt's time is up.
 */
export interface StepContext<Input = unknown, Outputs extends object = StepOutputs> {
  readonly sagaId: string;
  readonly step: string;
  /** 1 for the first attempt; counts every attempt, re-issues after a takeover included. */
  readonly attempt: number;
  readonly idempotencyKey: string;
  readonly input: Input;
  /** The outputs of the steps that succeeded before this one (earlier stages only). */
  readonly outputs: Outputs;
  readonly signal: AbortSignal;
}

/** What a compensation is given: the step's context (key `<sagaId>:<step>:compensate`) and the step's output. */
export interface CompensationContext<Input = unknown, Outputs extends object = StepOutputs, Output = unknown>
  extends StepContext<Input, Outputs> {
  readonly output: Output;
}

/** A step's action: calls a participant and returns a JSON-serialisable output (or throws). */
export type StepAction<Input = unknown, Outputs extends object = StepOutputs, Output = unknown> = (
  context: StepContext<Input, Outputs>,
) => Promise<Output> | Output;

/** A step's compensation: undoes the action's effect (or throws). Its result is kept for the timeline. */
export type StepCompensation<Input = unknown, Outputs extends object = StepOutputs, Output = unknown> = (
  context: CompensationContext<Input, Outputs, Output>,
) => Promise<unknown> | unknown;

/** Tells errors that no retry can fix (beyond `TerminalError`, which never is retried). */
export type NonRetryablePredicate = (error: unknown) => boolean;

/** How a step's action is tried: 3 attempts, 1 s first backoff, at most 30 s apart. */
export const DEFAULT_STEP_RETRY_POLICY: RetryPolicy = Object.freeze({
  maxAttempts: 3,
  initialDelayMs: 1_000,
  maxDelayMs: 30_000,
  multiplier: 2,
});

/**
 * How a compensation is tried: 10 attempts, up to a minute apart — it must not give up easily,
 * since giving up leaves the saga half done and waiting for a human.
 */
export const DEFAULT_COMPENSATION_RETRY_POLICY: RetryPolicy = Object.freeze({
  maxAttempts: 10,
  initialDelayMs: 1_000,
  maxDelayMs: 60_000,
  multiplier: 2,
});

/** How long one attempt of an action or a compensation may take: 30 s. */
export const DEFAULT_STEP_TIMEOUT_MS = 30_000;

/** A step's compensation, resolved. Method syntax: the definition erases the builder's output types. */
export interface SagaCompensation<Input = unknown> {
  run(context: CompensationContext<Input>): Promise<unknown> | unknown;
  readonly retry: RetryPolicy;
  readonly timeoutMs: number;
}

/** One step of a definition, with every default resolved. */
export interface SagaStep<Input = unknown> {
  readonly name: string;
  /** Index of the stage (a single step, or a parallel group) the step belongs to. */
  readonly stage: number;
  /** The service it calls, as the ownership manifest names it; null when not given. */
  readonly service: string | null;
  action(context: StepContext<Input>): Promise<unknown> | unknown;
  readonly retry: RetryPolicy;
  readonly timeoutMs: number;
  /** True for errors to fail at once, without retries (a `TerminalError` always is). */
  readonly nonRetryable: NonRetryablePredicate;
  /** Null when the step has nothing to undo. */
  readonly compensation: SagaCompensation<Input> | null;
}

/**
 * An immutable saga definition, registered with an orchestrator by (name, version). A running
 * instance keeps the version it started with.
 */
export interface SagaDefinition<Input = unknown> {
  readonly name: string;
  readonly version: number;
  /** Every step, in order: stage by stage, and within a parallel group in the order given. */
  readonly steps: readonly SagaStep<Input>[];
  /** The step names of each stage; a stage of several runs them at once. */
  readonly stages: readonly (readonly string[])[];
  /** Checks (and may convert) a stored input; throws `SAGA_INPUT_INVALID`. */
  parseInput(input: unknown): Input;
}

/** The idempotency key of a step's action: the same on every attempt and takeover. */
export function stepIdempotencyKey(sagaId: string, step: string): string {
  return `${sagaId}:${step}`;
}

/** The idempotency key of a step's compensation. */
export function compensationIdempotencyKey(sagaId: string, step: string): string {
  return `${sagaId}:${step}:compensate`;
}
