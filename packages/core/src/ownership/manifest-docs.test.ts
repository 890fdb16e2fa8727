/**
 * `docs/ownership-manifest.md` cannot rot: every YAML block in it is a manifest `parseManifest`
 * accepts as sound (and the editors' JSON Schema too), and every problem code `converge ownership
 * check` can report is explained in it.
 */
import { readFileSync } from 'node:fs';
import { Ajv } from 'ajv';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { parseManifest } from './manifest-parse.js';
import { ManifestProblemCode } from './manifest-problem.js';

const doc = readFileSync(new URL('../../../../docs/ownership-manifest.md', import.meta.url), 'utf8');
const validate = new Ajv().compile(
  JSON.parse(readFileSync(new URL('../../schema/converge.schema.json', import.meta.url), 'utf8')),
);

/** Each ```yaml block of the page, with the line its first line of YAML is on. */
function yamlBlocks(markdown: string): { line: number; text: string }[] {
  const blocks: { line: number; text: string }[] = [];
  const pattern = /^```yaml\n([\s\S]*?)^```$/gm;
  for (let match = pattern.exec(markdown); match !== null; match = pattern.exec(markdown)) {
    const line = markdown.slice(0, match.index).split('\n').length + 1;
    blocks.push({ line, text: match[1] ?? '' });
  }
  return blocks;
}

describe('docs/ownership-manifest.md', () => {
  const blocks = yamlBlocks(doc);

  it('has the book’s examples as YAML blocks', () => {
    // The first manifest; Wishlist/Catalog/Inventory; data domain, delegate, consolidation; Survey.
    expect(blocks.length).toBeGreaterThanOrEqual(6);
  });

  it.each(blocks.map((block) => [block.line, block]))(
    'the YAML block at line %i is a sound manifest, and the JSON Schema accepts it',
    (_line, block) => {
      const { manifest, problems } = parseManifest(block.text, { file: 'docs/ownership-manifest.md' });
      expect(problems).toEqual([]);
      expect(manifest).toBeDefined();
      expect(validate(parse(block.text)), JSON.stringify(validate.errors)).toBe(true);
    },
  );

  it('explains every problem code in its tables', () => {
    const rows = new Set([...doc.matchAll(/^\| `([A-Z_]+)` +\|/gm)].map((match) => match[1]));
    const missing = Object.values(ManifestProblemCode).filter((code) => !rows.has(code));
    expect(missing).toEqual([]);
  });
});
