/** Values a participant call takes either as they are or computed from the step's context. */
import type { StepContext } from './saga-definition.js';

/** A value, or a function of the step's context that gives it. */
export type FromContext<T, Input, Outputs extends object> = T | ((context: StepContext<Input, Outputs>) => T);

/** The value itself, or what the function gives for `context`. */
export function fromContext<T, Input, Outputs extends object>(
  value: FromContext<T, Input, Outputs>,
  context: StepContext<Input, Outputs>,
): T {
  return typeof value === 'function' ? (value as (c: StepContext<Input, Outputs>) => T)(context) : value;
}
