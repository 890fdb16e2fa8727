/**
 * The identifiers of the ownership manifest (services, schemas, tables, columns) become PostgreSQL
 * names: schemas, roles, tables in `GRANT` and `REVOKE` statements. Converge accepts only plain
 * lowercase names, so that the name in the file, the name in the catalog and the name in every
 * statement are the same string, and then still quotes them, so that no name can ever be read as
 * SQL. Values never go through here: they are bind parameters.
 */
import { ConvergeError } from '../core/errors.js';
import { POSTGRES_RESERVED_KEYWORDS } from './reserved-keywords.js';

/** The only names the manifest accepts: lowercase ASCII letters, digits and `_`, not starting with a digit. */
export const IDENTIFIER_PATTERN = /^[a-z_][a-z0-9_]*$/;

/** PostgreSQL keeps the first `NAMEDATALEN - 1` = 63 bytes of a name and drops the rest. */
export const MAX_IDENTIFIER_BYTES = 63;

/** Why a name cannot be used, with a stable code. */
export interface IdentifierProblem {
  readonly code:
    | 'IDENTIFIER_EMPTY'
    | 'IDENTIFIER_NUL'
    | 'IDENTIFIER_TOO_LONG'
    | 'IDENTIFIER_INVALID'
    | 'IDENTIFIER_RESERVED';
  /** The problem, naming what the name is for and the name (escaped, safe to print). */
  readonly message: string;
  /** What to write instead. */
  readonly remedy: string;
}

/**
 * Checks that `name` can be used as a PostgreSQL identifier as it is: not empty, no NUL, at most
 * 63 bytes, `^[a-z_][a-z0-9_]*$`, and not a reserved key word (`POSTGRES_RESERVED_KEYWORDS`).
 * Returns the first problem found, or `undefined` when the name is fine. Never throws.
 *
 * @param what What the name is for, used in the message ("service name", "table").
 * @example validateIdentifier('Billing', 'service name')?.code // 'IDENTIFIER_INVALID'
 */
export function validateIdentifier(name: string, what = 'identifier'): IdentifierProblem | undefined {
  const shown = showName(name);
  if (name.length === 0) {
    return {
      code: 'IDENTIFIER_EMPTY',
      message: `The ${what} is empty.`,
      remedy: 'Give it a name such as customer_profile.',
    };
  }
  if (name.includes('\0')) {
    return {
      code: 'IDENTIFIER_NUL',
      message: `The ${what} ${shown} contains a NUL byte, which PostgreSQL cannot store in a name.`,
      remedy: 'Remove the NUL byte; use only a-z, 0-9 and _.',
    };
  }
  const bytes = Buffer.byteLength(name, 'utf8');
  if (bytes > MAX_IDENTIFIER_BYTES) {
    return {
      code: 'IDENTIFIER_TOO_LONG',
      message: `The ${what} ${shown} is ${bytes} bytes long; PostgreSQL keeps only the first ${MAX_IDENTIFIER_BYTES} and silently drops the rest.`,
      remedy: `Shorten it to at most ${MAX_IDENTIFIER_BYTES} bytes.`,
    };
  }
  if (!IDENTIFIER_PATTERN.test(name)) {
    return {
      code: 'IDENTIFIER_INVALID',
      message: `The ${what} ${shown} ${whyInvalid(name)}.`,
      remedy: suggest(name),
    };
  }
  if (POSTGRES_RESERVED_KEYWORDS.has(name)) {
    return {
      code: 'IDENTIFIER_RESERVED',
      message: `The ${what} '${name}' is a PostgreSQL reserved key word.`,
      remedy: `Choose another name, such as '${name}s' or 'app_${name}'.`,
    };
  }
  return undefined;
}

/**
 * `name` as a quoted PostgreSQL identifier (`"customer_profile"`), for building SQL text. Only
 * names `validateIdentifier` accepts are quoted; embedded `"` would be doubled, although an
 * accepted name cannot contain one.
 *
 * @throws ConvergeError `IDENTIFIER_INVALID` (with `details.problem` the specific code) for any
 *   name `validateIdentifier` rejects.
 * @example quoteIdentifier('audit_log') // '"audit_log"'
 */
export function quoteIdentifier(name: string): string {
  const problem = validateIdentifier(name);
  if (problem !== undefined) {
    throw new ConvergeError('IDENTIFIER_INVALID', `${problem.message} ${problem.remedy}`, {
      details: { problem: problem.code },
    });
  }
  return `"${name.replaceAll('"', '""')}"`;
}

/**
 * What PostgreSQL keeps of `name`: its first 63 bytes, cut at a character boundary (as
 * `pg_mbcliplen` does), so that two long names that would become the same name can be found.
 *
 * @example truncateIdentifier('a'.repeat(70)).length // 63
 */
export function truncateIdentifier(name: string): string {
  if (Buffer.byteLength(name, 'utf8') <= MAX_IDENTIFIER_BYTES) return name;
  let kept = '';
  let bytes = 0;
  for (const character of name) {
    const size = Buffer.byteLength(character, 'utf8');
    if (bytes + size > MAX_IDENTIFIER_BYTES) break;
    kept += character;
    bytes += size;
  }
  return kept;
}

/**
 * `name` quoted for a message: at most 80 characters, every character outside printable ASCII
 * written as `\u{…}`, so that a look-alike, a control character or a quote is visible.
 */
export function showName(name: string): string {
  const characters = [...name];
  const escaped = characters
    .slice(0, 80)
    .map((character) => {
      const code = character.codePointAt(0) ?? 0;
      if (code < 0x20 || code > 0x7e || character === '\\') return `\\u{${code.toString(16)}}`;
      return character;
    })
    .join('');
  return `'${escaped}${characters.length > 80 ? '…' : ''}'`;
}

function whyInvalid(name: string): string {
  const nonAscii = [...name].find((character) => (character.codePointAt(0) ?? 0) > 0x7e);
  if (nonAscii !== undefined) {
    const code = (nonAscii.codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, '0');
    return `contains the non-ASCII character U+${code} (a look-alike of a Latin letter is still another name)`;
  }
  const other = [...name].find((character) => !/[a-zA-Z0-9_]/.test(character));
  if (other !== undefined) return `contains ${showName(other)}; only a-z, 0-9 and _ are allowed`;
  if (/[A-Z]/.test(name)) return 'has uppercase letters, which PostgreSQL folds unless quoted';
  return 'starts with a digit';
}

function suggest(name: string): string {
  const plain = name
    .toLowerCase()
    .replace(/[^a-z0-9_]+/g, '_')
    .replace(/^_+|_+$/g, '')
    .replace(/^([0-9])/, '_$1');
  return plain.length > 0 && IDENTIFIER_PATTERN.test(plain) && !POSTGRES_RESERVED_KEYWORDS.has(plain)
    ? `Use lowercase a-z, 0-9 and _, for example '${plain}'.`
    : 'Use lowercase a-z, 0-9 and _, not starting with a digit.';
}
