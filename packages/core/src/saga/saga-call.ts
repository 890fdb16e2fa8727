/**
 * One call of a step's action or compensation, as the orchestrator makes it: builds the context,
 * enforces the attempt's timeout with an `AbortSignal`, and turns whatever happened into the
 * result event the state machine records. Never throws.
 */
import type { FaultInjector } from '../ports/fault-points.js';
import { FaultPoint } from '../ports/fault-points.js';
import type { SagaDefinition, SagaStep, StepContext } from './saga-definition.js';
import type { SagaEvent } from './saga-event.js';
import type { SagaSnapshot } from './saga-snapshot.js';
import type { SagaAction } from './saga-state-machine.js';
import { stepFailure } from './step-failure.js';

/** The result events a call ends with. */
export type CallResultEvent = Exclude<
  SagaEvent,
  { kind: 'step-started' | 'compensation-started' } | { actor: string }
>;

/** Everything one call needs. */
export interface SagaCallRequest {
  readonly sagaId: string;
  readonly definition: SagaDefinition;
  readonly snapshot: SagaSnapshot;
  /** The stored input (parsed with the definition before the call). */
  readonly input: unknown;
  readonly action: SagaAction;
  /** Aborted when the orchestrator gives the saga up (fenced) — the call's result is then ignored. */
  readonly abandon: AbortSignal;
  readonly faults: FaultInjector;
}

/** A call that ended: its result event, or null when the saga was abandoned meanwhile. */
export interface SagaCallResult {
  readonly action: SagaAction;
  readonly event: CallResultEvent | null;
}

/** The reason a call's signal aborts with when its time is up. */
export class StepTimeoutError extends Error {
  override readonly name = 'StepTimeoutError';
}

/**
 * Calls `request.action` once. The call's signal aborts at `action.timeoutMs` (the result is then
 * `*-timed-out`, whatever the call does later) or when the saga is abandoned (the result is null).
 */
export async function callSagaAction(request: SagaCallRequest): Promise<SagaCallResult> {
  const { action, definition, abandon } = request;
  const step = definition.steps.find((s) => s.name === action.step)!;
  const undo = action.kind === 'run-compensation';
  const controller = new AbortController();
  const onAbandon = () => controller.abort(abandon.reason);
  abandon.addEventListener('abort', onAbandon, { once: true });
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<'timed-out'>((resolve) => {
    timer = setTimeout(() => {
      controller.abort(
        new StepTimeoutError(
          `Step '${action.step}' attempt ${action.attempt} ran out of its ${action.timeoutMs} ms.`,
        ),
      );
      resolve('timed-out');
    }, action.timeoutMs);
  });
  const abandoned = new Promise<'abandoned'>((resolve) => {
    if (abandon.aborted) resolve('abandoned');
    else abandon.addEventListener('abort', () => resolve('abandoned'), { once: true });
  });
  const run = (async () => {
    const context = contextOf(request, step, controller.signal);
    const output = undo
      ? await step.compensation!.run({
          ...context,
          output: request.snapshot.steps[step.name]?.output ?? null,
        })
      : await step.action(context);
    return { ok: true as const, output };
  })().catch((error: unknown) => ({ ok: false as const, error }));
  try {
    const outcome = await Promise.race([run, timedOut, abandoned]);
    if (outcome === 'abandoned' || abandon.aborted) return { action, event: null };
    request.faults.reach(undo ? FaultPoint.SAGA_MID_COMPENSATION : FaultPoint.SAGA_AFTER_CALL_BEFORE_RESULT);
    const base = { step: action.step, attempt: action.attempt };
    if (outcome === 'timed-out')
      return { action, event: { kind: undo ? 'compensation-timed-out' : 'step-timed-out', ...base } };
    if (outcome.ok) {
      return {
        action,
        event: undo
          ? { kind: 'compensation-succeeded', ...base }
          : { kind: 'step-succeeded', ...base, output: jsonOf(outcome.output) },
      };
    }
    const failure = stepFailure(outcome.error, undo ? () => false : step.nonRetryable);
    return { action, event: { kind: undo ? 'compensation-failed' : 'step-failed', ...base, ...failure } };
  } finally {
    clearTimeout(timer);
    abandon.removeEventListener('abort', onAbandon);
  }
}

function contextOf(request: SagaCallRequest, step: SagaStep, signal: AbortSignal): StepContext {
  const { snapshot, definition, action } = request;
  const outputs: Record<string, unknown> = {};
  for (const earlier of definition.steps) {
    const state = snapshot.steps[earlier.name];
    if (earlier.stage < step.stage && state?.succeededAt) outputs[earlier.name] = state.output;
  }
  return {
    sagaId: request.sagaId,
    step: step.name,
    attempt: action.attempt,
    idempotencyKey: action.idempotencyKey,
    input: definition.parseInput(request.input),
    outputs,
    signal,
  };
}

/** The output as the snapshot keeps it: JSON (undefined becomes null; what JSON cannot hold, its text). */
function jsonOf(output: unknown): unknown {
  if (output === undefined) return null;
  try {
    return JSON.parse(JSON.stringify(output)) as unknown;
  } catch {
    // The participant's effect happened: keep the step succeeded rather than lose that.
    return String(output);
  }
}
