/**
 * Reads a YAML document node by node, so that every problem can name where it is: the path in the
 * file (`services.billing.owns[2]`) and the line and column of the node. The reader collects
 * problems instead of throwing; it remembers the position of every value it reads, so that checks
 * that run later on the finished manifest can still point into the file.
 */
import {
  isAlias,
  isMap,
  isScalar,
  isSeq,
  LineCounter,
  type Node,
  parseDocument,
  Scalar,
  type Document as YamlDocument,
} from 'yaml';
import { didYouMean } from './closest-name.js';
import type { ManifestProblem, ManifestProblemCode, SourcePosition } from './manifest-problem.js';

/** One key of a mapping and its value (`null` for `key:` with nothing after it is a null scalar). */
export interface MapEntry {
  readonly key: string;
  readonly node: Node;
  /** The path of the value: `services.billing`. */
  readonly path: string;
}

/** One item of a list. */
export interface ListItem {
  readonly node: Node;
  readonly path: string;
}

/** The reader of one document; see the file comment. */
export interface YamlReader {
  /** The document's root node, or `undefined` when it is empty. */
  readonly root: Node | undefined;
  readonly problems: ManifestProblem[];
  report(code: ManifestProblemCode, path: string, message: string, remedy: string): void;
  /** The position of `path`, or of its nearest ancestor that has one. */
  locate(path: string): SourcePosition;
  /** The entries of a mapping in file order; reports a wrong type and, when `keys` is given, unknown keys. */
  mapping(node: Node, path: string, what: string, keys?: readonly string[]): MapEntry[] | undefined;
  /** The items of a list; reports a wrong type. */
  list(node: Node, path: string, what: string): ListItem[] | undefined;
  /** A string scalar; reports a wrong type. */
  string(node: Node, path: string, what: string): string | undefined;
  /** A number scalar; reports a wrong type. */
  number(node: Node, path: string, what: string): number | undefined;
}

/** More aliases than this is an alias bomb, not a manifest. */
const MAX_ALIASES = 100;

/**
 * Parses `text` as one YAML document. Syntax errors come back as `YAML_SYNTAX` problems (and
 * `DUPLICATE_KEY` for a key given twice), with the reader for whatever could be read.
 */
export function createYamlReader(text: string, file: string): YamlReader {
  const lineCounter = new LineCounter();
  const document = parseDocument(text, { lineCounter, uniqueKeys: true, prettyErrors: false });
  const problems: ManifestProblem[] = [];
  const positions = new Map<string, SourcePosition>();
  const at = (offset: number | undefined): SourcePosition => {
    if (offset === undefined) return { line: 0, column: 0 };
    const { line, col } = lineCounter.linePos(offset);
    return { line, column: col };
  };
  const push = (
    code: ManifestProblemCode,
    path: string,
    position: SourcePosition,
    message: string,
    remedy: string,
  ) => problems.push({ code, file, path, ...position, message, remedy });

  for (const error of document.errors) {
    const duplicate = error.code === 'DUPLICATE_KEY';
    push(
      duplicate ? 'DUPLICATE_KEY' : 'YAML_SYNTAX',
      '',
      at(error.pos[0]),
      `${firstLine(error.message)}.`,
      duplicate ? 'Give each key once; merge the two entries.' : 'Fix the YAML syntax at that place.',
    );
  }
  if (document.errors.length === 0) guardAliases(document, push, at);

  const resolve = (node: Node): Node =>
    isAlias(node) ? ((node.resolve(document) as Node | undefined) ?? node) : node;
  const remember = (path: string, node: Node | null | undefined) => {
    if (node?.range && !positions.has(path)) positions.set(path, at(node.range[0]));
  };
  const wrongType = (path: string, node: Node, what: string, expected: string) => {
    remember(path, node);
    reader.report(
      'WRONG_TYPE',
      path,
      `${what} must be ${expected}, not ${describe(node)}.`,
      `Write ${what} as ${expected}.`,
    );
  };

  const reader: YamlReader = {
    root: document.contents === null ? undefined : resolve(document.contents),
    problems,
    report: (code, path, message, remedy) => push(code, path, reader.locate(path), message, remedy),
    locate(path) {
      for (let current = path; ; current = parentPath(current)) {
        const position = positions.get(current);
        if (position !== undefined) return position;
        if (current === '') return { line: 1, column: 1 };
      }
    },
    mapping(raw, path, what, keys) {
      const node = resolve(raw);
      remember(path, node);
      if (!isMap(node)) {
        wrongType(path, node, what, 'a mapping (key: value)');
        return undefined;
      }
      const entries: MapEntry[] = [];
      for (const pair of node.items) {
        const keyNode = pair.key as Node | null;
        const key = isScalar(keyNode) ? String(keyNode.value) : '';
        const entryPath = joinPath(path, key);
        remember(entryPath, keyNode);
        if (!isScalar(keyNode)) {
          reader.report(
            'WRONG_TYPE',
            entryPath,
            `A key in ${what} is not a plain name.`,
            'Use plain names as keys.',
          );
          continue;
        }
        if (keys !== undefined && !keys.includes(key)) {
          reader.report(
            'UNKNOWN_KEY',
            entryPath,
            `${what} has no key '${key}'.`,
            `Remove it; the keys here are ${keys.join(', ')}.${didYouMean(key, keys)}`,
          );
          continue;
        }
        entries.push({
          key,
          node: pair.value === null ? nullAt(keyNode) : resolve(pair.value as Node),
          path: entryPath,
        });
      }
      return entries;
    },
    list(raw, path, what) {
      const node = resolve(raw);
      remember(path, node);
      if (!isSeq(node)) {
        wrongType(path, node, what, 'a list ([a, b] or one "- item" per line)');
        return undefined;
      }
      return node.items.map((item, index) => {
        const itemPath = `${path}[${index}]`;
        const itemNode = resolve(item as Node);
        remember(itemPath, itemNode);
        return { node: itemNode, path: itemPath };
      });
    },
    string(raw, path, what) {
      const node = resolve(raw);
      remember(path, node);
      if (isScalar(node) && typeof node.value === 'string') return node.value;
      wrongType(path, node, what, 'a string');
      return undefined;
    },
    number(raw, path, what) {
      const node = resolve(raw);
      remember(path, node);
      if (isScalar(node) && typeof node.value === 'number') return node.value;
      wrongType(path, node, what, 'a number');
      return undefined;
    },
  };
  return reader;
}

/** `services.billing` + `owns` → `services.billing.owns`; a key that is not a plain word is quoted: `services["my service"]`. */
export function joinPath(path: string, key: string): string {
  if (!/^[A-Za-z0-9_-]+$/.test(key)) return `${path}[${JSON.stringify(key)}]`;
  return path === '' ? key : `${path}.${key}`;
}

function parentPath(path: string): string {
  const match = /^(.*?)(\.[^.[\]]+|\[[^\]]*\])$/.exec(path);
  return match?.[1] ?? '';
}

function nullAt(keyNode: Node): Node {
  // `? key` with no value: report it where the key is, as the null it is.
  const node = new Scalar(null);
  if (keyNode.range) node.range = keyNode.range;
  return node;
}

function describe(node: Node): string {
  if (isMap(node)) return 'a mapping';
  if (isSeq(node)) return 'a list';
  if (isScalar(node)) {
    if (node.value === null) return 'nothing (null)';
    return `the ${typeof node.value} ${JSON.stringify(node.value)?.slice(0, 40)}`;
  }
  return 'an unknown kind of node';
}

function firstLine(message: string): string {
  return (message.split('\n')[0] ?? message).replace(/ at line \d+, column \d+:?$/, '').replace(/\.$/, '');
}

function guardAliases(
  document: YamlDocument,
  push: (
    code: ManifestProblemCode,
    path: string,
    position: SourcePosition,
    message: string,
    remedy: string,
  ) => void,
  at: (offset: number | undefined) => SourcePosition,
): void {
  try {
    document.toJS({ maxAliasCount: MAX_ALIASES });
  } catch (error) {
    push(
      'YAML_SYNTAX',
      '',
      at(0),
      `The document cannot be expanded: ${firstLine((error as Error).message)}.`,
      `Use fewer aliases (at most ${MAX_ALIASES}).`,
    );
  }
}
