import { ConvergeError } from './errors.js';

/** A database location Converge understands: a PostgreSQL URL or a SQLite file. */
export type DatabaseUrl =
  | { readonly kind: 'postgres'; readonly url: string }
  | { readonly kind: 'sqlite'; readonly path: string };

/**
 * Replaces the password of every URL in `text` with `***`, so that a message or a log line can be
 * printed safely. Works on whole sentences, not only on a bare URL.
 *
 * @example maskSecrets('postgres://app:s3cret@db/x') // 'postgres://app:***@db/x'
 */
export function maskSecrets(text: string): string {
  return text
    .replace(/([a-z][a-z0-9+.-]*:\/\/[^:/?#\s@]*:)([^@\s/]*)@/gi, '$1***@')
    .replace(/([?&]password=)[^&\s]*/gi, '$1***');
}

/**
 * Parses `postgres://…`, `postgresql://…` or `sqlite:path/to/file.db` (also `sqlite::memory:`).
 *
 * @throws ConvergeError `DATABASE_URL_INVALID` naming the accepted forms.
 */
export function parseDatabaseUrl(input: string): DatabaseUrl {
  const value = input.trim();
  if (/^postgres(ql)?:\/\//i.test(value)) {
    try {
      new URL(value);
    } catch {
      // Node's URL error keeps the raw input (password included), so it is not kept as the cause.
      throw invalid(value, 'it is not a well-formed URL');
    }
    return { kind: 'postgres', url: value };
  }
  if (/^sqlite:/i.test(value)) {
    const path = value.slice('sqlite:'.length).replace(/^\/\/(?=\/)/, '');
    if (path.length === 0) throw invalid(value, 'the file path is empty');
    return { kind: 'sqlite', path };
  }
  throw invalid(value, 'the scheme is not supported');
}

function invalid(value: string, why: string): ConvergeError {
  return new ConvergeError(
    'DATABASE_URL_INVALID',
    `Database URL '${maskSecrets(value)}' cannot be used: ${why}. Use 'postgres://user:password@host:5432/db' or 'sqlite:path/to/file.db'.`,
    { details: { url: maskSecrets(value) } },
  );
}
