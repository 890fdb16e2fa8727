/**
 * Reads PostgreSQL's `log_line_prefix` setting (for example Debian's default `'%m [%p] %q%u@%d '`)
 * as a regular expression that finds the role (`%u`) and the database (`%d`) at the start of each
 * log line. Every escape PostgreSQL 15 documents is understood, with its optional padding
 * (`%-10u`); `%q` makes the rest of the prefix optional, as it is for lines of processes that are
 * not sessions (the checkpointer, the autovacuum launcher).
 */
import { ConvergeError } from '../../core/errors.js';

/** A compiled prefix: matches the start of a log entry and captures `user`, `database`, `level`, `message`. */
export interface LogLinePrefix {
  readonly pattern: RegExp;
  /** Whether the prefix has `%d`, so that entries can be kept for one database. */
  readonly hasDatabase: boolean;
}

const TIMESTAMP = String.raw`\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d+)? ?\S*`;

/** The pattern each escape stands for. */
const ESCAPES: Readonly<Record<string, string>> = {
  a: '.*?',
  u: String.raw`(?<user>\S*?)`,
  d: String.raw`(?<database>\S*?)`,
  r: String.raw`\S*`,
  h: String.raw`\S*`,
  L: String.raw`\S*`,
  b: '.*?',
  p: String.raw`\d*`,
  P: String.raw`\d*`,
  t: TIMESTAMP,
  m: TIMESTAMP,
  s: TIMESTAMP,
  n: String.raw`[\d.]+`,
  i: '.*?',
  e: '[0-9A-Z]{5}',
  c: String.raw`[0-9a-f]+\.[0-9a-f]+`,
  l: String.raw`\d+`,
  v: String.raw`[\d/]*`,
  x: String.raw`\d*`,
  Q: String.raw`-?\d+`,
};

/**
 * Compiles `prefix` (the value of `log_line_prefix`, without the quotes of postgresql.conf).
 *
 * @throws ConvergeError `LOG_PREFIX_WITHOUT_USER` when the prefix has no `%u`: statements could not
 *   be attributed to a role.
 * @example compileLogLinePrefix('%m [%p] %q%u@%d ').pattern.exec(line)?.groups?.user
 */
export function compileLogLinePrefix(prefix: string): LogLinePrefix {
  let source = '';
  let optionalGroups = 0;
  let hasUser = false;
  let hasDatabase = false;
  for (let index = 0; index < prefix.length; index += 1) {
    const char = prefix[index] as string;
    if (char !== '%') {
      source += escapeRegExp(char);
      continue;
    }
    const spec = /^-?\d*(.)/.exec(prefix.slice(index + 1));
    const letter = spec?.[1];
    index += spec?.[0].length ?? 0;
    if (letter === undefined) break;
    const padded = spec !== null && spec[0].length > 1;
    if (letter === '%') source += '%';
    else if (letter === 'q') {
      source += '(?:';
      optionalGroups += 1;
    } else if (ESCAPES[letter] !== undefined) {
      if (letter === 'u') hasUser = true;
      if (letter === 'd') hasDatabase = true;
      source += padded ? ` *${ESCAPES[letter]} *` : ESCAPES[letter];
    }
  }
  if (!hasUser) {
    throw new ConvergeError(
      'LOG_PREFIX_WITHOUT_USER',
      `log_line_prefix '${prefix}' has no %u, so log lines do not say which role ran a statement. Set log_line_prefix = '%m [%p] %q%u@%d ' and reload PostgreSQL, or pass the prefix the log was written with as --log-prefix.`,
      { details: { prefix } },
    );
  }
  source += ')?'.repeat(optionalGroups);
  return {
    pattern: new RegExp(`^${source}(?<level>[A-Z]+[0-9]?):  (?<message>.*)$`),
    hasDatabase,
  };
}

function escapeRegExp(char: string): string {
  return /[\\^$.*+?()[\]{}|/]/.test(char) ? `\\${char}` : char;
}
