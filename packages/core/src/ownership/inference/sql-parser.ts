/**
 * The PostgreSQL parser Converge uses to read captured statements: `libpg-query`, PostgreSQL's own
 * grammar (libpg_query, the parser extracted from the server) compiled to WebAssembly and shipped
 * inside the npm package, so it installs without a compiler or a download and runs anywhere
 * Node 20 does.
 *
 * The package starts instantiating its WebAssembly module as soon as it is imported, so it is
 * imported here only when `loadSqlParser()` is called: nothing that imports `@converge/core` (or
 * even `@converge/core/inference`) pays for it until it parses something (ADR 0021).
 */

/** A parsed statement list as libpg_query's JSON: `{ stmts: [{ stmt: { InsertStmt: … } }, …] }`. */
export interface ParsedSql {
  readonly stmts?: readonly { readonly stmt?: unknown }[];
}

/** Parses SQL text; throws on a syntax error (with the parser's message). */
export interface SqlParser {
  parse(sql: string): ParsedSql;
}

/**
 * Loads the WebAssembly parser and returns a synchronous parser. Calling it again is cheap: Node
 * caches the import and the package instantiates its module once per process.
 *
 * @example const parser = await loadSqlParser(); parser.parse('SELECT 1');
 */
export async function loadSqlParser(): Promise<SqlParser> {
  const module = await import('libpg-query');
  await module.loadModule();
  return Object.freeze({ parse: (sql: string): ParsedSql => module.parseSync(sql) as ParsedSql });
}
