import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isConvergeError } from '../core/errors.js';
import {
  IDENTIFIER_PATTERN,
  MAX_IDENTIFIER_BYTES,
  quoteIdentifier,
  showName,
  truncateIdentifier,
  validateIdentifier,
} from './identifiers.js';
import { POSTGRES_RESERVED_KEYWORDS } from './reserved-keywords.js';

describe('validateIdentifier', () => {
  it.each([
    ['customer_profile'],
    ['_private'],
    ['a'],
    ['t1'],
    ['a'.repeat(MAX_IDENTIFIER_BYTES)],
    ['users'],
    ['usr'],
  ])('accepts %s', (name) => {
    expect(validateIdentifier(name)).toBeUndefined();
  });

  it.each([
    ['', 'IDENTIFIER_EMPTY', /is empty/],
    ['bad\0name', 'IDENTIFIER_NUL', /NUL byte/],
    ['a'.repeat(64), 'IDENTIFIER_TOO_LONG', /64 bytes long; PostgreSQL keeps only the first 63/],
    ['é'.repeat(32), 'IDENTIFIER_TOO_LONG', /64 bytes long/],
    ['Billing', 'IDENTIFIER_INVALID', /uppercase/],
    ['1table', 'IDENTIFIER_INVALID', /starts with a digit/],
    ['x"; DROP TABLE t; --', 'IDENTIFIER_INVALID', /contains '"'/],
    ["o'brien", 'IDENTIFIER_INVALID', /contains '''/],
    ['a;b', 'IDENTIFIER_INVALID', /contains ';'/],
    ['a--b', 'IDENTIFIER_INVALID', /contains '-'/],
    ['a/*b*/', 'IDENTIFIER_INVALID', /contains '\/'/],
    ['with space', 'IDENTIFIER_INVALID', /contains ' '/],
    ['bіlling', 'IDENTIFIER_INVALID', /non-ASCII character U\+0456/], // Cyrillic і
    ['billing\u200b', 'IDENTIFIER_INVALID', /U\+200B/],
    ['user', 'IDENTIFIER_RESERVED', /'user' is a PostgreSQL reserved key word/],
    ['table', 'IDENTIFIER_RESERVED', /reserved/],
    ['left', 'IDENTIFIER_RESERVED', /reserved/],
  ])('rejects %j with %s', (name, code, message) => {
    const problem = validateIdentifier(name, 'table');
    expect(problem?.code).toBe(code);
    expect(problem?.message).toMatch(message);
    expect(problem?.message).toMatch(/^The table /);
    expect(problem?.remedy.length).toBeGreaterThan(0);
  });

  it('suggests a plain name for a name that only needs lowercasing', () => {
    expect(validateIdentifier('Customer-Profile')?.remedy).toContain("'customer_profile'");
  });

  it('never prints a control character or a NUL of the name', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), (name) => {
        const problem = validateIdentifier(name);
        if (problem === undefined) return;
        const controls = [...problem.message].filter(
          (c) => (c.codePointAt(0) ?? 0) < 0x20 || /\p{Cc}/u.test(c),
        );
        expect(controls).toEqual([]);
      }),
    );
  });
});

/** Characters chosen to break out of a quoted or unquoted identifier, and look-alikes. */
const HOSTILE = [
  '"',
  "'",
  ';',
  '--',
  '/*',
  '*/',
  '\\',
  '\0',
  ' ',
  '\n',
  'А',
  'е',
  'ı',
  'ſ',
  '\u200b',
  'É',
  '$',
];

describe('identifier fuzzing', () => {
  const hostileName = fc
    .tuple(
      fc.string({ unit: fc.constantFrom(...'abcxyz_019'.split('')), maxLength: 10 }),
      fc.constantFrom(...HOSTILE),
      fc.string({ unit: fc.constantFrom(...'abcxyz_019'.split('')), maxLength: 10 }),
    )
    .map(([before, bad, after]) => `${before}${bad}${after}`);

  it('rejects every name with a quote, ;, --, /*, a look-alike or a NUL, with a message naming it', () => {
    fc.assert(
      fc.property(hostileName, (name) => {
        const problem = validateIdentifier(name, 'service name');
        expect(problem).toBeDefined();
        expect(problem?.code).toMatch(/^IDENTIFIER_(INVALID|NUL|TOO_LONG)$/);
        expect(problem?.message).toMatch(/^The service name '/);
        expect(() => quoteIdentifier(name)).toThrow(/The identifier/);
      }),
    );
  });

  it('rejects mixed case, over-long names and every reserved word', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.stringMatching(/^[a-z]{0,5}[A-Z][a-zA-Z]{0,5}$/),
          fc.stringMatching(/^[a-z_]{64,90}$/),
          fc.constantFrom(...POSTGRES_RESERVED_KEYWORDS),
        ),
        (name) => {
          expect(validateIdentifier(name)).toBeDefined();
        },
      ),
    );
  });

  it('quotes every accepted name as "name", which contains no quote, ;, comment or NUL', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 70 }), (name) => {
        if (validateIdentifier(name) !== undefined) {
          try {
            quoteIdentifier(name);
            expect.unreachable('quoteIdentifier accepted a rejected name');
          } catch (error) {
            expect(isConvergeError(error) && error.code === 'IDENTIFIER_INVALID').toBe(true);
          }
          return;
        }
        const quoted = quoteIdentifier(name);
        expect(quoted).toBe(`"${name}"`);
        expect(quoted.slice(1, -1)).toMatch(IDENTIFIER_PATTERN);
      }),
    );
  });

  it('quotes accepted names generated from the allowed alphabet', () => {
    fc.assert(
      fc.property(fc.stringMatching(/^[a-z_][a-z0-9_]{0,62}$/), (name) => {
        fc.pre(!POSTGRES_RESERVED_KEYWORDS.has(name));
        expect(quoteIdentifier(name)).toBe(`"${name}"`);
      }),
    );
  });
});

describe('truncateIdentifier', () => {
  it('keeps the first 63 bytes, cut at a character boundary', () => {
    expect(truncateIdentifier(`${'a'.repeat(63)}bc`)).toBe('a'.repeat(63));
    expect(truncateIdentifier(`${'a'.repeat(62)}é`)).toBe('a'.repeat(62));
    expect(truncateIdentifier('short')).toBe('short');
  });
});

describe('showName', () => {
  it('makes quotes and look-alikes visible and shortens long names', () => {
    expect(showName('a\0b')).toBe("'a\\u{0}b'");
    expect(showName('bіlling')).toBe("'b\\u{456}lling'");
    expect(showName('x'.repeat(100))).toBe(`'${'x'.repeat(80)}…'`);
  });
});
