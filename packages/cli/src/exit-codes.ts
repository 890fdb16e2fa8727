/**
 * The `converge` command's exit codes, the contract scripts and CI jobs rely on. Only `main.ts`
 * turns an outcome or an error into one of these numbers.
 *
 * @example ExitCode.problems // 3, what `converge` exits with when a check found problems
 */
export const ExitCode = Object.freeze({
  /** Everything went as asked. */
  ok: 0,
  /** The command failed (the database could not be reached, a step failed, …). */
  failure: 1,
  /** The command line or the configuration is wrong (unknown option, bad database URL, …). */
  usage: 2,
  /** A check ran and found problems. */
  problems: 3,
  /** What the command was asked to act on does not exist. */
  notFound: 4,
  /** The command would conflict with the current state (already replayed, already held, …). */
  conflict: 5,
} as const);

/** How a command ended, by name; `ExitCode[outcome]` is the number the process exits with. */
export type Outcome = keyof typeof ExitCode;

/** The exit code table as printed at the end of `converge --help`. */
export function describeExitCodes(): string {
  return [
    'Exit codes:',
    `  ${ExitCode.ok}  ok`,
    `  ${ExitCode.failure}  failure`,
    `  ${ExitCode.usage}  usage or configuration error`,
    `  ${ExitCode.problems}  a check found problems`,
    `  ${ExitCode.notFound}  not found`,
    `  ${ExitCode.conflict}  conflict`,
  ].join('\n');
}

/** Error codes that mean "fix the command line or the configuration", not "something failed". */
const CONFIGURATION_CODES: ReadonlySet<string> = new Set([
  'DATABASE_URL_INVALID',
  'CONFIG_INVALID',
  'CONFIRMATION_REQUIRED',
  'SQLITE_OPEN_FAILED',
  'SCHEMA_TOO_NEW',
  'SCHEMA_OUT_OF_DATE',
  'MANIFEST_UNREADABLE',
  'MANIFEST_INVALID',
  'MANIFEST_YAML_SYNTAX',
  'INFERENCE_NEEDS_POSTGRES',
  'PG_STAT_STATEMENTS_UNAVAILABLE',
  'LOG_UNREADABLE',
  'LOG_PREFIX_WITHOUT_USER',
  'REPORT_UNWRITABLE',
  'OWNERSHIP_ENFORCEMENT_NEEDS_POSTGRES',
  'OWNERSHIP_ENFORCEMENT_INVALID',
  'OWNERSHIP_SERVICE_NOT_FOUND',
  'IDENTIFIER_INVALID',
  'DATABASE_URL_VARIABLE_MISSING',
  'DATABASE_REFERENCE_INVALID',
]);

/** Error codes that mean "what you named does not exist" (4) or "it is not in a state for that" (5). */
const NOT_FOUND_CODES: ReadonlySet<string> = new Set(['DEAD_LETTER_NOT_FOUND', 'SAGA_NOT_FOUND']);
const CONFLICT_CODES: ReadonlySet<string> = new Set([
  'SAGA_BUSY',
  'DEAD_LETTER_NOT_OPEN',
  'DEAD_LETTER_NOT_REPLAYABLE',
  'OWNERSHIP_PLAN_CHANGED',
  'SAGA_ACTION_INVALID',
]);

/**
 * The outcome a `ConvergeError` code stands for; `failure` for every code not listed.
 *
 * @example outcomeOf('DEAD_LETTER_NOT_OPEN') // 'conflict'
 */
export function outcomeOf(code: string): Outcome {
  if (CONFIGURATION_CODES.has(code)) return 'usage';
  if (NOT_FOUND_CODES.has(code)) return 'notFound';
  if (CONFLICT_CODES.has(code)) return 'conflict';
  return 'failure';
}
