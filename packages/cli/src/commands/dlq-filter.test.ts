import { describe, expect, it } from 'vitest';
import type { StoredDeadLetter } from '../../../core/src/index.js';
import { deadLetter } from '../../test/dead-letter-fixture.js';
import { filterDeadLetters, parseFilterExpressions, parseRate } from './dlq-filter.js';

const stored = (id: number, fingerprint: string): StoredDeadLetter => ({
  ...deadLetter(id, { fingerprint }),
  id,
  status: 'open',
});

describe('parseFilterExpressions', () => {
  it('turns repeated field=value options into one filter (the value may hold "=")', () => {
    expect(
      parseFilterExpressions(['reason=HANDLER_RETRIES_EXHAUSTED', 'consumer=billing', 'key=a=b', 'since=2h']),
    ).toEqual({ reason: 'HANDLER_RETRIES_EXHAUSTED', consumer: 'billing', key: 'a=b', since: '2h' });
  });

  it('refuses status, unknown fields, a missing value and a field given twice, naming the fix', () => {
    for (const [expressions, message] of [
      [['status=open'], 'a bulk action only acts on open dead letters'],
      [['__proto__=x'], 'is not field=value'],
      [['consumer'], 'is not field=value'],
      [['consumer='], 'is not field=value'],
      [['type=a', 'type=b'], '--filter type=… is given twice'],
    ] as const) {
      expect(() => parseFilterExpressions(expressions)).toThrow(
        expect.objectContaining({ code: 'CONFIG_INVALID', message: expect.stringContaining(message) }),
      );
    }
  });
});

describe('filterDeadLetters', () => {
  it('selects by fingerprint', () => {
    const letters = [stored(1, 'f-a'), stored(2, 'f-b'), stored(3, 'f-a')];
    expect(filterDeadLetters(letters, { fingerprint: 'f-a' }, new Date()).map((l) => l.id)).toEqual([1, 3]);
  });
});

describe('parseRate', () => {
  it('gives the time between two requests for N/s and N/m', () => {
    expect(parseRate('10/s')).toBe(100);
    expect(parseRate('0.5/s')).toBe(2_000);
    expect(parseRate('120/m')).toBe(500);
  });

  it('refuses anything else with an example', () => {
    for (const text of ['10', 'fast', '0/s', '-1/s', '5/h', '/s']) {
      expect(() => parseRate(text)).toThrow(
        expect.objectContaining({ code: 'CONFIG_INVALID', message: expect.stringContaining('e.g. 10/s') }),
      );
    }
  });
});
