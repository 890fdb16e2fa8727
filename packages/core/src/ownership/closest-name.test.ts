import { describe, expect, it } from 'vitest';
import { closestName, didYouMean } from './closest-name.js';

describe('closestName', () => {
  it('finds a near miss and nothing for a far one', () => {
    expect(closestName('ownz', ['owns', 'reads', 'writes'])).toBe('owns');
    expect(closestName('delegation', ['delegate', 'data-domain'])).toBe('delegate');
    expect(closestName('Owns', ['owns'])).toBe('owns');
    expect(closestName('zebra', ['owns', 'reads'])).toBeUndefined();
    expect(closestName('x', [])).toBeUndefined();
  });

  it('words the suggestion for a remedy', () => {
    expect(didYouMean('comon', ['common', 'joint'])).toBe(" Did you mean 'common'?");
    expect(didYouMean('zzzzzz', ['common'])).toBe('');
  });
});
