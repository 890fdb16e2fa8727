// biome-ignore-all lint/suspicious/noTemplateCurlyInString: ${NAME} is the manifest's own syntax for environment variables.
import { describe, expect, it } from 'vitest';
import { manifestYaml } from '../../test/manifest-fixtures.js';
import { RULE_CASES } from '../../test/manifest-rule-cases.js';
import { SHAPE_CASES } from '../../test/manifest-shape-cases.js';
import { parseManifest } from './manifest-parse.js';

const codes = (text: string) => parseManifest(text).problems.map((problem) => problem.code);

describe('parseManifest on the sound manifest', () => {
  it('returns the manifest with every service, shared table and copy, and no problem', () => {
    const { manifest, problems } = parseManifest(manifestYaml());
    expect(problems).toEqual([]);
    expect(manifest?.services.map((service) => service.name)).toContain('customer_profile');
    const inventory = manifest?.services.find((service) => service.name === 'inventory');
    expect(inventory).toMatchObject({
      schema: 'stock',
      owns: ['product_inventory'],
      writes: ['product_price'],
    });
    const audit = manifest?.services.find((service) => service.name === 'audit');
    expect(audit).toMatchObject({ schema: 'audit', reads: [], writes: [] });
    expect(manifest?.shared.find((table) => table.table === 'survey')).toEqual({
      table: 'survey',
      ownership: 'joint',
      technique: 'delegate',
      owner: 'survey',
      delegates: ['customer_survey'],
    });
    expect(manifest?.copies).toEqual([
      {
        of: { service: 'customer_profile', table: 'customer' },
        in: { service: 'billing_payment', table: 'customer_copy' },
        key: ['id'],
        columns: { status: 'customer_status' },
      },
    ]);
  });
});

describe('shape problems', () => {
  it.each(SHAPE_CASES.map((shape) => [shape.name, shape]))('%s', (_name, shape) => {
    const { manifest, problems } = parseManifest(manifestYaml(shape.mutate));
    expect(problems.map((problem) => problem.code)).toContain(shape.code);
    expect(manifest).toBeUndefined();
    for (const problem of problems) {
      expect(problem.line).toBeGreaterThan(0);
      expect(problem.message.length).toBeGreaterThan(10);
      expect(problem.remedy.length).toBeGreaterThan(5);
    }
  });
});

describe('rules', () => {
  it.each(RULE_CASES.map((rule) => [rule.name, rule]))('%s: fails, then passes once fixed', (_name, rule) => {
    const failing = parseManifest(manifestYaml(rule.fail));
    expect(failing.manifest).toBeUndefined();
    expect(failing.problems.map((problem) => `${problem.code} ${problem.path}`)).toContain(
      `${rule.code} ${rule.path}`,
    );
    const passing = parseManifest(manifestYaml(rule.pass));
    expect(passing.problems).toEqual([]);
    expect(passing.manifest).toBeDefined();
  });
});

describe('where a problem is', () => {
  const text = [
    'version: 1',
    'services:',
    '  billing:',
    '    database: ${BILLING_DATABASE_URL}',
    '    owns: [invoice, payment, Refund]',
    '    ownz: []',
  ].join('\n');

  it('gives the path, the line and the column of the YAML node', () => {
    const { problems } = parseManifest(text, { file: 'ops/converge.yaml' });
    expect(problems).toEqual([
      expect.objectContaining({
        code: 'IDENTIFIER_INVALID',
        file: 'ops/converge.yaml',
        path: 'services.billing.owns[2]',
        line: 5,
        column: 30,
      }),
      expect.objectContaining({
        code: 'UNKNOWN_KEY',
        path: 'services.billing.ownz',
        line: 6,
        column: 5,
        remedy: expect.stringContaining("Did you mean 'owns'?"),
      }),
    ]);
  });

  it('points a rule problem at the entry that breaks it', () => {
    const { problems } = parseManifest(
      [
        'version: 1',
        'services:',
        '  a: { database: x, owns: [t] }',
        '  b:',
        '    database: y',
        '    owns:',
        '      - u',
        '      - t',
      ].join('\n'),
    );
    expect(problems).toEqual([
      expect.objectContaining({
        code: 'TABLE_CLAIMED_BY_TWO_OWNERS',
        path: 'services.b.owns[1]',
        line: 8,
        column: 9,
      }),
    ]);
    expect(problems[0]?.message).toBe("Table 't' is claimed by 'a' and by 'b'; a table has one owner.");
  });

  it('names the file converge.yaml by default', () => {
    expect(parseManifest('version: 1').problems[0]?.file).toBe('converge.yaml');
  });
});

describe('the file itself', () => {
  it('reports YAML that cannot be parsed as YAML_SYNTAX with its position', () => {
    const { manifest, problems } = parseManifest('version: 1\nservices: [\n');
    expect(manifest).toBeUndefined();
    expect(problems[0]).toMatchObject({ code: 'YAML_SYNTAX', line: expect.any(Number) });
    expect(problems.every((problem) => problem.code === 'YAML_SYNTAX')).toBe(true);
  });

  it('reports a key given twice as DUPLICATE_KEY', () => {
    const text = 'version: 1\nservices:\n  a: { database: x }\n  a: { database: y }\n';
    expect(parseManifest(text).problems[0]).toMatchObject({ code: 'DUPLICATE_KEY', line: 4 });
  });

  it.each([
    ['an empty file', ''],
    ['a comment only', '# nothing\n'],
    ['a list', '- a\n- b\n'],
    ['a single value', 'hello\n'],
  ])('reports %s as MANIFEST_NOT_MAPPING', (_name, text) => {
    expect(codes(text)).toEqual(['MANIFEST_NOT_MAPPING']);
  });

  it('refuses an alias bomb instead of expanding it', () => {
    const levels = ['a: &a [x, x, x, x, x, x, x, x, x]'];
    for (let level = 1; level < 8; level += 1) {
      const previous = String.fromCharCode(96 + level);
      const current = String.fromCharCode(97 + level);
      levels.push(`${current}: &${current} [${Array(9).fill(`*${previous}`).join(', ')}]`);
    }
    expect(codes(levels.join('\n'))).toContain('YAML_SYNTAX');
  });

  it('follows an alias to the node it names', () => {
    const text =
      'version: 1\nservices:\n  a: &svc { database: "${A}", owns: [t] }\n  b: { database: "${B}", reads: [a.t] }\n';
    expect(parseManifest(text).problems).toEqual([]);
  });
});

describe('names that collide once truncated', () => {
  it('names both long tables, besides the length of each', () => {
    const long = 'x'.repeat(63);
    const text = `version: 1\nservices:\n  a:\n    database: d\n    owns: [${long}_one, ${long}_two]\n`;
    const found = codes(text);
    expect(found.filter((code) => code === 'IDENTIFIER_TOO_LONG')).toHaveLength(2);
    expect(found).toContain('IDENTIFIER_TRUNCATION_COLLISION');
  });

  it('does not report two long names that differ within 63 bytes', () => {
    const text = `version: 1\nservices:\n  a:\n    database: d\n    owns: [a${'x'.repeat(63)}, b${'x'.repeat(63)}]\n`;
    expect(codes(text)).not.toContain('IDENTIFIER_TRUNCATION_COLLISION');
  });
});

describe('secrets', () => {
  it('masks a password written in the file in every message', () => {
    const text = 'version: 1\nservices:\n  a: { database: "postgres://a:Sup3rS3cret@db/a" }\n';
    const { problems } = parseManifest(text);
    expect(problems.map((problem) => problem.code)).toEqual(['DATABASE_PASSWORD_IN_FILE']);
    expect(JSON.stringify(problems)).not.toContain('Sup3rS3cret');
  });
});
