/**
 * Names in the manifest, read from YAML lists and scalars. A *declared* name (a service, a table
 * in `owns`, a schema, a column) must be a valid, unreserved identifier; a *reference* to a name
 * declared elsewhere must have the form of one (a reserved word is left to the checker, which
 * then finds no such name).
 */
import type { Node } from 'yaml';
import { validateIdentifier } from './identifiers.js';
import type { YamlReader } from './yaml-reader.js';

/** A list of names (`owns`, `writes`, `delegates`, …); reports duplicates. */
export function names(
  reader: YamlReader,
  entry: { readonly node: Node; readonly path: string } | undefined,
  what: string,
  kind: 'declared' | 'reference',
): string[] {
  if (entry === undefined) return [];
  const result: string[] = [];
  for (const item of reader.list(entry.node, entry.path, entry.path.split('.').pop() ?? what) ?? []) {
    const name = reader.string(item.node, item.path, `Each ${what}`);
    if (name === undefined) continue;
    if (kind === 'declared') declaredName(reader, name, item.path, what);
    else referenceName(reader, name, item.path, what);
    if (result.includes(name)) {
      reader.report(
        'DUPLICATE_ENTRY',
        item.path,
        `${entry.path} lists '${name}' twice.`,
        'Remove the second one.',
      );
    } else result.push(name);
  }
  return result;
}

/** Reports a declared name that `validateIdentifier` rejects. */
export function declaredName(reader: YamlReader, name: string, path: string, what: string): void {
  const problem = validateIdentifier(name, what);
  if (problem !== undefined) reader.report(problem.code, path, problem.message, problem.remedy);
}

/** Reports a reference that cannot be a name (reserved words are left to the checker: no such name exists). */
export function referenceName(reader: YamlReader, name: string, path: string, what: string): boolean {
  const problem = validateIdentifier(name, what);
  if (problem === undefined || problem.code === 'IDENTIFIER_RESERVED') return true;
  reader.report(problem.code, path, problem.message, problem.remedy);
  return false;
}
