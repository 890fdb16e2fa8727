/**
 * `defineSaga(name, version)`: a typed, immutable builder of saga definitions. Each call returns a
 * new builder, so a partly built definition can be shared and extended safely; `build()` checks
 * the whole definition and freezes it.
 */
import { ConvergeError, describeError } from '../core/errors.js';
import type { RetryPolicy } from '../core/retry-policy.js';
import { validateIdentifier } from '../ownership/identifiers.js';
import {
  DEFAULT_COMPENSATION_RETRY_POLICY,
  DEFAULT_STEP_RETRY_POLICY,
  DEFAULT_STEP_TIMEOUT_MS,
  type NonRetryablePredicate,
  type SagaDefinition,
  type SagaStep,
  type StepAction,
  type StepCompensation,
} from './saga-definition.js';

/** A saga's name: a letter, then letters, digits, `_`, `.` or `-`; at most 100 characters. */
export const SAGA_NAME_PATTERN = /^[A-Za-z][A-Za-z0-9_.-]{0,99}$/;

/** A step's name: a letter, then letters, digits, `_` or `-`; at most 64 characters (no `:`, which separates the parts of idempotency keys). */
export const STEP_NAME_PATTERN = /^[A-Za-z][A-Za-z0-9_-]{0,63}$/;

/** The longest timeout Node's timers can wait for (2^31 - 1 ms, about 24.8 days). */
const MAX_TIMEOUT_MS = 2_147_483_647;

/** What a step is made of. Defaults: `DEFAULT_STEP_RETRY_POLICY`, `DEFAULT_STEP_TIMEOUT_MS`, `DEFAULT_COMPENSATION_RETRY_POLICY`. */
export interface StepOptions<Input, Outputs extends object, Output> {
  readonly action: StepAction<Input, Outputs, Output>;
  /**
   * The service the step calls, as the ownership manifest names it (`billing_payment`: lowercase
   * letters, digits and `_`). Optional; kept in every instance's snapshot, so that
   * `converge ownership coupling` can count the sagas that span two services.
   */
  readonly service?: string;
  /** Undoes the action; omit it when the step has nothing to undo (a read, a notification). */
  readonly compensate?: StepCompensation<Input, Outputs, Output>;
  /** The action's retry policy; missing fields take `DEFAULT_STEP_RETRY_POLICY`'s (3 attempts). */
  readonly retry?: Partial<RetryPolicy>;
  /** How long one attempt of the action may take. Default 30000. */
  readonly timeoutMs?: number;
  /** Errors to fail at once without retries, besides `TerminalError`. */
  readonly nonRetryable?: NonRetryablePredicate;
  /** The compensation's retry policy; missing fields take `DEFAULT_COMPENSATION_RETRY_POLICY`'s (10 attempts). */
  readonly compensationRetry?: Partial<RetryPolicy>;
  /** How long one attempt of the compensation may take. Default 30000. */
  readonly compensationTimeoutMs?: number;
}

/** A member of a parallel group: a step's options and its name. */
export interface ParallelStepOptions<Input, Outputs extends object, Name extends string, Output>
  extends StepOptions<Input, Outputs, Output> {
  readonly name: Name;
}

/** Checks a saga's input: a function returning the input (or throwing), or a schema with `parse` (zod, valibot wrappers…). */
export type InputValidator<T> = ((input: unknown) => T) | { parse(input: unknown): T };

/** The outputs a parallel group adds, by step name. */
export type ParallelOutputs<Steps extends readonly { readonly name: string; readonly action: unknown }[]> = {
  readonly [S in Steps[number] as S['name']]: S['action'] extends (...args: never[]) => infer R
    ? Awaited<R>
    : never;
};

/** The builder `defineSaga` returns. Every method returns a new builder. */
export interface SagaBuilder<Input, Outputs extends object> {
  /** Types the input, and checks it with `validator` when given (when a saga starts and before each call). */
  input<T>(validator?: InputValidator<T>): SagaBuilder<T, Outputs>;
  /** Adds a step that runs after every earlier one succeeded. */
  step<Name extends string, Output>(
    name: Name,
    options: StepOptions<Input, Outputs, Output>,
  ): SagaBuilder<Input, Outputs & { readonly [K in Name]: Awaited<Output> }>;
  /** Adds a group of steps that run at once, after every earlier step succeeded. */
  parallel<const Steps extends readonly ParallelStepOptions<Input, Outputs, string, unknown>[]>(
    steps: Steps,
  ): SagaBuilder<Input, Outputs & ParallelOutputs<Steps>>;
  /**
   * Checks the definition and returns it frozen.
   *
   * @throws ConvergeError `SAGA_DEFINITION_INVALID` naming the saga, the step and the remedy: no
   * steps, an empty group, a bad or repeated step name, a service name the manifest would refuse,
   * a timeout or retry policy out of range.
   */
  build(): SagaDefinition<Input>;
}

interface BuilderState {
  readonly name: string;
  readonly version: number;
  readonly validator: InputValidator<unknown> | undefined;
  readonly stages: readonly (readonly ParallelStepOptions<unknown, object, string, unknown>[])[];
}

/**
 * Starts a saga definition.
 *
 * @example
 * const unsubscribe = defineSaga('unsubscribe', 1)
 *   .input<{ customerId: string }>()
 *   .step('profile', { action: httpCall({ url: 'http://profile/unsubscribe', body: (c) => c.input }), compensate: … })
 *   .parallel([{ name: 'contract', action: … }, { name: 'billing', action: …, compensate: … }])
 *   .build();
 */
export function defineSaga(name: string, version: number): SagaBuilder<unknown, object> {
  return builder({ name, version, validator: undefined, stages: [] });
}

function builder<Input, Outputs extends object>(state: BuilderState): SagaBuilder<Input, Outputs> {
  const withStage = <B>(stage: readonly ParallelStepOptions<Input, Outputs, string, unknown>[]): B =>
    builder({
      ...state,
      stages: [...state.stages, stage as unknown as BuilderState['stages'][number]],
    }) as B;
  return Object.freeze({
    input: <T>(validator?: InputValidator<T>) => builder<T, Outputs>({ ...state, validator }),
    step: (name: string, options: StepOptions<Input, Outputs, unknown>) => withStage([{ ...options, name }]),
    parallel: (steps: readonly ParallelStepOptions<Input, Outputs, string, unknown>[]) =>
      withStage([...steps]),
    build: () => build(state) as SagaDefinition<Input>,
  }) as SagaBuilder<Input, Outputs>;
}

function build(state: BuilderState): SagaDefinition {
  const { name, version } = state;
  const fail = definitionError(state);
  if (typeof name !== 'string' || !SAGA_NAME_PATTERN.test(name)) {
    fail(
      null,
      `the saga name ${JSON.stringify(name)} is not valid`,
      `name it with a letter followed by letters, digits, '_', '.' or '-' (at most 100), e.g. 'customer-unsubscribe'`,
    );
  }
  if (!Number.isSafeInteger(version) || version < 1) {
    fail(
      null,
      `the version ${String(version)} is not a positive whole number`,
      'give 1 for the first version and add 1 for each change',
    );
  }
  if (state.stages.length === 0)
    fail(null, 'it has no steps', "add at least one with .step('name', { action })");
  const seen = new Set<string>();
  const steps: SagaStep[] = [];
  state.stages.forEach((stage, index) => {
    if (stage.length === 0)
      fail(null, `parallel group ${index + 1} is empty`, 'give it at least one step, or remove it');
    for (const options of stage) {
      const step = resolveStep(options, index, fail);
      if (seen.has(step.name)) fail(step.name, 'the step name is used twice', 'give every step its own name');
      seen.add(step.name);
      steps.push(step);
    }
  });
  const validator = state.validator;
  return Object.freeze({
    name,
    version,
    steps: Object.freeze(steps),
    stages: Object.freeze(state.stages.map((stage) => Object.freeze(stage.map((s) => s.name)))),
    parseInput: (input: unknown) => parseInput(name, version, validator, input),
  });
}

type Fail = (step: string | null, problem: string, remedy: string) => never;

function definitionError(state: BuilderState): Fail {
  return (step, problem, remedy) => {
    const where = step === null ? '' : ` step '${step}'`;
    throw new ConvergeError(
      'SAGA_DEFINITION_INVALID',
      `Saga '${String(state.name)}' version ${String(state.version)}${where}: ${problem}; ${remedy}.`,
      { details: { saga: state.name, version: state.version, step } },
    );
  };
}

function resolveStep(
  options: ParallelStepOptions<unknown, object, string, unknown>,
  stage: number,
  fail: Fail,
): SagaStep {
  const name = options?.name;
  if (typeof name !== 'string' || !STEP_NAME_PATTERN.test(name)) {
    fail(
      null,
      `the step name ${JSON.stringify(name)} is not valid`,
      "name it with a letter followed by letters, digits, '_' or '-' (at most 64, no ':'), e.g. 'charge-card'",
    );
  }
  if (typeof options.action !== 'function')
    fail(name, 'the action is not a function', 'give { action: async (context) => … }');
  if (options.compensate !== undefined && typeof options.compensate !== 'function') {
    fail(name, 'compensate is not a function', 'give { compensate: async (context) => … } or leave it out');
  }
  if (options.nonRetryable !== undefined && typeof options.nonRetryable !== 'function') {
    fail(name, 'nonRetryable is not a function', 'give a predicate (error) => boolean or leave it out');
  }
  const service = checkService(options.service, name, fail);
  const timeoutMs = checkTimeout(options.timeoutMs, 'timeoutMs', name, fail);
  const retry = resolvePolicy(options.retry, DEFAULT_STEP_RETRY_POLICY, 'retry', name, fail);
  const action = options.action as SagaStep['action'];
  const nonRetryable = options.nonRetryable ?? (() => false);
  const compensate = options.compensate as ((context: never) => unknown) | undefined;
  const compensation =
    compensate === undefined
      ? null
      : Object.freeze({
          run: compensate,
          retry: resolvePolicy(
            options.compensationRetry,
            DEFAULT_COMPENSATION_RETRY_POLICY,
            'compensationRetry',
            name,
            fail,
          ),
          timeoutMs: checkTimeout(options.compensationTimeoutMs, 'compensationTimeoutMs', name, fail),
        });
  return Object.freeze({ name, stage, service, action, retry, timeoutMs, nonRetryable, compensation });
}

/** The step's service as the manifest names it, or null when not given. */
function checkService(value: string | undefined, step: string, fail: Fail): string | null {
  if (value === undefined) return null;
  if (typeof value !== 'string') {
    fail(
      step,
      `service ${String(value)} is not a string`,
      "give the service as the ownership manifest names it, e.g. service: 'billing_payment'",
    );
  }
  const problem = validateIdentifier(value, 'service name');
  if (problem !== undefined) {
    const sentence = (text: string) => text.charAt(0).toLowerCase() + text.slice(1).replace(/\.$/, '');
    fail(
      step,
      sentence(problem.message),
      `${sentence(problem.remedy)}, as the ownership manifest names the service`,
    );
  }
  return value;
}

function checkTimeout(value: number | undefined, field: string, step: string, fail: Fail): number {
  if (value === undefined) return DEFAULT_STEP_TIMEOUT_MS;
  if (!Number.isSafeInteger(value) || value < 1 || value > MAX_TIMEOUT_MS) {
    fail(
      step,
      `${field} ${String(value)} is not a whole number of milliseconds from 1 to ${MAX_TIMEOUT_MS}`,
      `give e.g. ${field}: 30000`,
    );
  }
  return value;
}

function resolvePolicy(
  given: Partial<RetryPolicy> | undefined,
  defaults: RetryPolicy,
  field: string,
  step: string,
  fail: Fail,
): RetryPolicy {
  const policy = { ...defaults, ...given };
  const { maxAttempts, initialDelayMs, maxDelayMs, multiplier } = policy;
  if (!Number.isSafeInteger(maxAttempts) || maxAttempts < 1) {
    fail(
      step,
      `${field}.maxAttempts ${String(maxAttempts)} is not a whole number of at least 1`,
      `give e.g. ${field}: { maxAttempts: ${defaults.maxAttempts} }`,
    );
  }
  if (
    !Number.isFinite(initialDelayMs) ||
    initialDelayMs < 1 ||
    !Number.isFinite(maxDelayMs) ||
    maxDelayMs < initialDelayMs
  ) {
    fail(
      step,
      `${field} delays ${String(initialDelayMs)}..${String(maxDelayMs)} ms are out of range`,
      'give initialDelayMs ≥ 1 and maxDelayMs ≥ initialDelayMs',
    );
  }
  if (!Number.isFinite(multiplier) || multiplier < 1) {
    fail(
      step,
      `${field}.multiplier ${String(multiplier)} is below 1`,
      'give 1 for a constant delay or 2 to double it per attempt',
    );
  }
  return Object.freeze(policy);
}

function parseInput(
  name: string,
  version: number,
  validator: InputValidator<unknown> | undefined,
  input: unknown,
): unknown {
  if (validator === undefined) return input;
  try {
    return typeof validator === 'function' ? validator(input) : validator.parse(input);
  } catch (error) {
    throw new ConvergeError(
      'SAGA_INPUT_INVALID',
      `Saga '${name}' version ${version}: the input is not valid (${describeError(error).message}); start it with an input its validator accepts.`,
      { cause: error, details: { saga: name, version } },
    );
  }
}
