/**
 * Optional payload schemas per message type (JSON Schema, draft-07/2019-09 as Ajv supports):
 * a message whose `data` does not match its type's schema is dead-lettered `SCHEMA_INVALID`
 * before the handler runs, so handlers only see data of the shape they were written for.
 */
import { Ajv } from 'ajv';
import type { Envelope } from '../core/envelope.js';
import { ConvergeError } from '../core/errors.js';

/** Checks a message's data; returns why it does not match, or null. */
export type DataValidator = (envelope: Envelope) => string | null;

/** JSON Schemas by message type. */
export type MessageSchemas = Readonly<Record<string, object | boolean>>;

/**
 * Compiles `schemas` once, at subscribe time.
 * @throws ConvergeError `CONFIG_INVALID` naming the type whose schema does not compile.
 */
export function compileSchemas(consumer: string, schemas: MessageSchemas | undefined): DataValidator {
  if (schemas === undefined) return () => null;
  const ajv = new Ajv({ allErrors: true, strict: false, logger: false });
  const validators = new Map<string, ReturnType<typeof ajv.compile>>();
  for (const [type, schema] of Object.entries(schemas)) {
    try {
      validators.set(type, ajv.compile(schema));
    } catch (cause) {
      throw new ConvergeError(
        'CONFIG_INVALID',
        `Consumer '${consumer}': the schema for type '${type}' is not a valid JSON Schema (${(cause as Error).message}); fix it or remove it from 'schemas'.`,
        { cause, details: { field: `schemas.${type}` } },
      );
    }
  }
  return (envelope) => {
    const validate = validators.get(envelope.type);
    if (validate === undefined || validate(envelope.data)) return null;
    return `data does not match the schema of '${envelope.type}': ${ajv.errorsText(validate.errors, { dataVar: 'data' })}`;
  };
}
