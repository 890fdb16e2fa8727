/**
 * SQLite statements in a form PostgreSQL's parser (`libpg-query`) reads, for the ownership guard:
 * the text is split into statements and, outside string literals, quoted names and comments,
 *
 * - parameters (`?`, `?3`, `:name`, `@name`, `$name`) become `$1` (values never matter here);
 * - `` `name` `` and `[name]` become `"name"`;
 * - `INSERT OR REPLACE|IGNORE|ABORT|FAIL|ROLLBACK` and `UPDATE OR …` lose their `OR …`, and
 *   `REPLACE INTO` becomes `INSERT INTO` (both still write the same table).
 *
 * What remains SQLite-only (`AUTOINCREMENT`, `CREATE TRIGGER … BEGIN … END`, `ATTACH`) does not
 * parse, and the guard refuses it rather than guess.
 */

/** One statement of the input: its text as written, and the same for PostgreSQL's parser. */
export interface SqliteStatement {
  readonly text: string;
  readonly postgres: string;
  /** The first keyword, upper case (`INSERT`, `PRAGMA`, …); empty when there is none. */
  readonly keyword: string;
}

const CONFLICT_WORDS: ReadonlySet<string> = new Set(['REPLACE', 'IGNORE', 'ABORT', 'FAIL', 'ROLLBACK']);

type Token = { readonly text: string; readonly word?: string };

/**
 * The statements of `sql`, in order; empty statements (`;;`, comments alone) left out.
 *
 * @example splitSqliteStatements('INSERT OR IGNORE INTO t VALUES (?)')[0].postgres // 'INSERT INTO t VALUES ($1)'
 */
export function splitSqliteStatements(sql: string): SqliteStatement[] {
  const statements: SqliteStatement[] = [];
  let tokens: Token[] = [];
  let start = 0;
  const end = (at: number) => {
    const words = tokens.filter((token) => token.word !== undefined);
    if (words.length > 0) {
      statements.push({
        text: sql.slice(start, at).trim(),
        postgres: rewrite(tokens).trim(),
        keyword: words[0]?.word ?? '',
      });
    }
    tokens = [];
    start = at + 1;
  };
  let index = 0;
  while (index < sql.length) {
    const { token, next } = readToken(sql, index);
    if (token.text === ';') end(index);
    else tokens.push(token);
    index = next;
  }
  end(sql.length);
  return statements;
}

/** The token at `index` and where the next one starts. */
function readToken(sql: string, index: number): { token: Token; next: number } {
  const char = sql.charAt(index);
  const rest = sql.slice(index);
  if (char === "'" || char === '"') return quoted(sql, index, char);
  if (char === '`') {
    const { token, next } = quoted(sql, index, '`');
    return { token: { text: doubleQuoted(token.text.slice(1, -1).replaceAll('``', '`')) }, next };
  }
  if (char === '[') {
    const close = sql.indexOf(']', index + 1);
    const next = close === -1 ? sql.length : close + 1;
    return { token: { text: doubleQuoted(sql.slice(index + 1, close === -1 ? undefined : close)) }, next };
  }
  if (rest.startsWith('--')) {
    const newline = sql.indexOf('\n', index);
    return { token: { text: ' ' }, next: newline === -1 ? sql.length : newline };
  }
  if (rest.startsWith('/*')) {
    const close = sql.indexOf('*/', index + 2);
    return { token: { text: ' ' }, next: close === -1 ? sql.length : close + 2 };
  }
  const parameter = /^(?:\?\d*|[:@$][A-Za-z_][A-Za-z0-9_]*)/.exec(rest);
  if (parameter !== null) return { token: { text: '$1' }, next: index + parameter[0].length };
  const word = /^[A-Za-z_][A-Za-z0-9_$]*/.exec(rest);
  if (word !== null)
    return { token: { text: word[0], word: word[0].toUpperCase() }, next: index + word[0].length };
  return { token: { text: char }, next: index + 1 };
}

/** A literal or name in `quote`s, with the quote doubled inside; unterminated runs to the end. */
function quoted(sql: string, index: number, quote: string): { token: Token; next: number } {
  let at = index + 1;
  while (at < sql.length) {
    if (sql.charAt(at) === quote) {
      if (sql.charAt(at + 1) !== quote) return { token: { text: sql.slice(index, at + 1) }, next: at + 1 };
      at += 2;
    } else at += 1;
  }
  return { token: { text: sql.slice(index) }, next: sql.length };
}

function doubleQuoted(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/** Drops SQLite's `OR <conflict>` after INSERT and UPDATE, and turns `REPLACE INTO` into `INSERT INTO`. */
function rewrite(tokens: readonly Token[]): string {
  const out: string[] = [];
  const nextWord = (from: number): number => {
    let at = from;
    while (at < tokens.length && tokens[at]?.word === undefined && /^\s*$/.test(tokens[at]?.text ?? ''))
      at += 1;
    return tokens[at]?.word === undefined ? -1 : at;
  };
  for (let index = 0; index < tokens.length; index += 1) {
    const token = tokens[index] as Token;
    if (token.word === 'INSERT' || token.word === 'UPDATE') {
      const or = nextWord(index + 1);
      const conflict = or === -1 ? -1 : nextWord(or + 1);
      if (
        or !== -1 &&
        tokens[or]?.word === 'OR' &&
        conflict !== -1 &&
        CONFLICT_WORDS.has(tokens[conflict]?.word ?? '')
      ) {
        out.push(token.text);
        index = conflict;
        continue;
      }
    }
    if (token.word === 'REPLACE') {
      const into = nextWord(index + 1);
      if (into !== -1 && tokens[into]?.word === 'INTO') {
        out.push('INSERT');
        continue;
      }
    }
    out.push(token.text);
  }
  return out.join('');
}
