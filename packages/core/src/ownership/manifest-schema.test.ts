// biome-ignore-all lint/suspicious/noTemplateCurlyInString: ${NAME} is the manifest's own syntax for environment variables.
/**
 * The JSON Schema published for editors (`schema/converge.schema.json`) and the parser must agree
 * on which manifests have a sound shape: every case here, and random changes of the sound
 * manifest, are accepted by both or rejected by both. The rules the schema cannot express
 * (references, ownership conflicts) are the parser's alone.
 */
import { readFileSync } from 'node:fs';
import { Ajv } from 'ajv';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { manifestYaml, soundDraft } from '../../test/manifest-fixtures.js';
import { RULE_CASES } from '../../test/manifest-rule-cases.js';
import { SHAPE_CASES } from '../../test/manifest-shape-cases.js';
import { parseManifest } from './manifest-parse.js';
import { readManifest } from './manifest-read.js';
import { POSTGRES_RESERVED_KEYWORDS } from './reserved-keywords.js';
import { createYamlReader } from './yaml-reader.js';

const schema = JSON.parse(
  readFileSync(new URL('../../schema/converge.schema.json', import.meta.url), 'utf8'),
) as { definitions: { identifier: { not: { enum: string[] } } } };
const validate = new Ajv({ allErrors: true }).compile(schema);

/** Whether the parser's first pass (the shape) finds nothing. */
function shapeIsSound(text: string): boolean {
  const reader = createYamlReader(text, 'converge.yaml');
  readManifest(reader);
  return reader.problems.length === 0;
}

function schemaAccepts(text: string): boolean {
  return validate(parse(text)) === true;
}

describe('converge.schema.json', () => {
  it('lists exactly the reserved key words the parser rejects', () => {
    expect([...schema.definitions.identifier.not.enum].sort()).toEqual(
      [...POSTGRES_RESERVED_KEYWORDS].sort(),
    );
  });

  it('accepts the sound manifest, as the parser does', () => {
    expect(schemaAccepts(manifestYaml())).toBe(true);
    expect(shapeIsSound(manifestYaml())).toBe(true);
  });

  it.each(SHAPE_CASES.map((shape) => [shape.name, shape]))(
    'rejects what the parser rejects: %s',
    (_name, shape) => {
      const text = manifestYaml(shape.mutate);
      expect(shapeIsSound(text)).toBe(false);
      expect(schemaAccepts(text)).toBe(false);
    },
  );

  it.each(RULE_CASES.map((rule) => [rule.name, rule]))(
    'accepts a sound shape whose rules only the parser checks: %s',
    (_name, rule) => {
      const text = manifestYaml(rule.fail);
      expect(schemaAccepts(text)).toBe(true);
      expect(shapeIsSound(text)).toBe(true);
      expect(parseManifest(text).problems.length).toBeGreaterThan(0);
    },
  );

  it('agrees with the parser on random changes of the sound manifest', () => {
    const outcomes = { accepted: 0, rejected: 0 };
    fc.assert(
      fc.property(fc.array(change, { minLength: 1, maxLength: 2 }), (changes) => {
        const draft = soundDraft() as unknown as Record<string, unknown>;
        for (const apply of changes) apply(draft);
        const text = stringify(draft);
        const sound = shapeIsSound(text);
        expect(schemaAccepts(text)).toBe(sound);
        outcomes[sound ? 'accepted' : 'rejected'] += 1;
      }),
      // A fixed seed keeps CI repeatable; 15,000 runs on random seeds agreed when this was written.
      { numRuns: 400, seed: 1238140968 },
    );
    // Both outcomes are common, so the agreement is not the trivial "both reject everything".
    expect(outcomes.accepted).toBeGreaterThan(40);
    expect(outcomes.rejected).toBeGreaterThan(40);
  });
});

/** One value of the draft: the mapping or list holding it and its key there. */
interface Slot {
  readonly container: Record<string, unknown> | unknown[];
  readonly key: string | number;
  readonly value: unknown;
}

/** Every value of `root` (nested ones too) with where it is, in document order. */
function slotsOf(root: unknown): Slot[] {
  const slots: Slot[] = [];
  const walk = (value: unknown) => {
    if (Array.isArray(value)) {
      value.forEach((item, key) => {
        slots.push({ container: value, key, value: item });
        walk(item);
      });
    } else if (typeof value === 'object' && value !== null) {
      for (const [key, item] of Object.entries(value)) {
        slots.push({ container: value as Record<string, unknown>, key, value: item });
        walk(item);
      }
    }
  };
  walk(root);
  return slots;
}

function pickSlot(draft: Record<string, unknown>, pick: number): Slot | undefined {
  const slots = slotsOf(draft);
  return slots[pick % slots.length];
}

function setSlot(slot: Slot, value: unknown): void {
  (slot.container as Record<string | number, unknown>)[slot.key] = value;
}

function isMapping(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Values a change puts in place, by kind. Most are what a manifest holds (names the fixture
 * declares, references, URLs, the ownership words), so that many changes keep the shape sound;
 * the rest are the mistakes the parser must catch (bad names, wrong types, empty lists).
 */
const STRINGS = fc.constantFrom(
  'audit',
  'catalog',
  'inventory',
  'product',
  'customer_copy',
  'id',
  'catalog.product',
  'customer_profile.customer',
  '${AUDIT_DATABASE_URL}',
  'postgres://a@db/a',
  'common',
  'joint',
  'delegate',
  'table-split',
  'data-domain',
  'consolidation',
  'Audit',
  'user',
  '',
  'a.b.c',
  'a\0b',
  'a;b',
  '${X',
  'x'.repeat(64),
);
const LISTS = fc.constantFrom(
  [],
  ['audit'],
  ['catalog', 'inventory'],
  ['audit', 'audit'],
  ['catalog.product'],
  ['Audit'],
  [1],
);
const MAPPINGS = fc.constantFrom({}, { a: 'b' }, { a: 'catalog', b: 'inventory' }, { Bad: 'catalog' });
const SCALARS = fc.constantFrom<unknown>(0, 1, 2, true, null);
const KEYS = fc.constantFrom(
  'version',
  'shared',
  'copies',
  'database',
  'schema',
  'owns',
  'writes',
  'reads',
  'ownership',
  'technique',
  'owner',
  'writers',
  'delegates',
  'parts',
  'services',
  'into',
  'from',
  'key',
  'columns',
  'extra',
);

/** Of `[text, list, mapping, scalar]`, the one of the same kind as `current`. */
function sameKind(current: unknown, [text, list, mapping, scalar]: readonly unknown[]): unknown {
  if (typeof current === 'string') return text;
  if (Array.isArray(current)) return list;
  return isMapping(current) ? mapping : scalar;
}

type Change = (draft: Record<string, unknown>) => void;

/** Replace a value (mostly by one of its kind), delete one, or add a key to a mapping. */
const change: fc.Arbitrary<Change> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc
      .tuple(fc.nat(), fc.nat(3), STRINGS, LISTS, MAPPINGS, SCALARS)
      .map<Change>(([pick, kind, text, list, mapping, scalar]) => (draft) => {
        const slot = pickSlot(draft, pick);
        const values = [text, list, mapping, scalar];
        // One change in four puts a value of any kind, the others one of the same kind.
        if (slot !== undefined)
          setSlot(slot, structuredClone(kind === 0 ? values[pick % 4] : sameKind(slot.value, values)));
      }),
  },
  {
    weight: 3,
    arbitrary: fc.nat().map<Change>((pick) => (draft) => {
      const slot = pickSlot(draft, pick);
      if (slot === undefined) return;
      if (Array.isArray(slot.container)) slot.container.splice(slot.key as number, 1);
      else delete slot.container[slot.key];
    }),
  },
  {
    weight: 2,
    arbitrary: fc
      .tuple(fc.nat(), KEYS, fc.oneof(STRINGS, LISTS, MAPPINGS, SCALARS))
      .map<Change>(([pick, key, value]) => (draft) => {
        const mappings = [
          draft,
          ...slotsOf(draft)
            .map((slot) => slot.value)
            .filter(isMapping),
        ];
        const target = mappings[pick % mappings.length] ?? draft;
        target[key] = structuredClone(value);
      }),
  },
);
