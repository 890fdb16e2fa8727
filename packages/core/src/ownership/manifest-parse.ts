/**
 * `parseManifest`: reads a `converge.yaml` and checks it, in two passes. The first reads the
 * shape (what the JSON Schema `schema/converge.schema.json` also rejects: wrong types, unknown or
 * missing keys, bad names); the second, run once the shape is sound, checks the rules that need
 * the whole manifest (`checkManifest`). Names that collide once truncated are reported in both.
 */
import type { Manifest } from './manifest.js';
import { checkManifest } from './manifest-check.js';
import type { ManifestProblem, ParseManifestOptions, ParseManifestResult } from './manifest-problem.js';
import { readManifest } from './manifest-read.js';
import { findTruncationCollisions } from './truncation-collisions.js';
import { createYamlReader } from './yaml-reader.js';

/**
 * Parses and checks the text of a `converge.yaml`. Never throws: a file that is not YAML comes
 * back as `YAML_SYNTAX` problems. The manifest is returned only when there is no problem at all.
 *
 * @example
 * const { manifest, problems } = parseManifest(readFileSync('converge.yaml', 'utf8'), { file: 'converge.yaml' });
 * for (const p of problems) console.log(`${p.file}:${p.line}:${p.column}  ${p.code}  ${p.message}`);
 */
export function parseManifest(text: string, options: ParseManifestOptions = {}): ParseManifestResult {
  const file = options.file ?? 'converge.yaml';
  const reader = createYamlReader(text, file);
  if (reader.problems.some((problem) => problem.code === 'YAML_SYNTAX')) {
    return { manifest: undefined, problems: sorted(reader.problems) };
  }
  const draft: Manifest | undefined = readManifest(reader);
  if (draft === undefined) return { manifest: undefined, problems: sorted(reader.problems) };
  if (reader.problems.length > 0) {
    findTruncationCollisions(draft, reader.report);
    return { manifest: undefined, problems: sorted(reader.problems) };
  }
  const problems = checkManifest(draft, { file, locate: reader.locate });
  return problems.length === 0
    ? { manifest: draft, problems: [] }
    : { manifest: undefined, problems: sorted(problems) };
}

/** In file order; problems at the same place keep the order they were found in. */
function sorted(problems: readonly ManifestProblem[]): ManifestProblem[] {
  return [...problems].sort((a, b) => a.line - b.line || a.column - b.column);
}
