import { describe, expect, it } from 'vitest';
import { differencesText, planScript } from './ownership-enforce-format.js';

/** A role someone created by hand, whose name tries to end the comment it is printed in. */
const hostile = 'x\nDROP DATABASE app; --';
const sql = `REVOKE SELECT ON TABLE "a"."t" FROM "${hostile}"`;
const difference = {
  kind: 'extra-grant' as const,
  object: 'table a.t',
  role: hostile,
  message: `${hostile} has SELECT on table a.t, which the manifest does not give.`,
  fix: [sql],
};

describe('planScript', () => {
  it('keeps a name with a line break inside its comment, so the script runs only the plan', () => {
    const script = planScript(
      { statements: [{ sql, reason: difference.message }], differences: [difference] },
      'm',
    );
    expect(script.split('\n')).not.toContain('DROP DATABASE app; --');
    expect(script).toContain('-- x\\u000aDROP DATABASE app; -- has SELECT on table a.t');
    expect(
      script.startsWith('-- converge ownership plan: m\n-- 1 statement(s), in one transaction.\nBEGIN;\n'),
    ).toBe(true);
    expect(script.endsWith(`${sql};\n\nCOMMIT;`)).toBe(true);
  });

  it('says there is nothing to change for an empty plan, and lists what no statement removes', () => {
    const missing = {
      kind: 'table-missing' as const,
      object: 'table a.t',
      message: 'Table a.t is missing.',
      fix: [],
    };
    expect(planScript({ statements: [], differences: [missing] }, 'm')).toBe(
      '-- converge ownership plan: m\n-- Nothing to change: 0 statements.\n\n-- 1 difference(s) no statement removes:\n-- Table a.t is missing.',
    );
  });
});

describe('differencesText', () => {
  it('prints kind, object and role, the message and the fix, each on its own line', () => {
    expect(differencesText([difference]).split('\n')).toEqual([
      'extra-grant  table a.t  x\\u000aDROP DATABASE app; --',
      '  x\\u000aDROP DATABASE app; -- has SELECT on table a.t, which the manifest does not give.',
      '  fix: REVOKE SELECT ON TABLE "a"."t" FROM "x\\u000aDROP DATABASE app; --";',
    ]);
  });
});
