import { describe, expect, it } from 'vitest';
import type { Envelope } from './envelope.js';
import { payloadHash } from './payload-hash.js';

const base: Envelope = {
  specversion: '1.0',
  id: '0190a8f0-0000-7000-8000-000000000001',
  source: 'orders',
  type: 'order.placed',
  time: '2026-01-01T00:00:00.000Z',
  datacontenttype: 'application/json',
  subject: 'k',
  sequence: 3,
  data: { amount: 12, items: ['a'] },
};

describe('payloadHash', () => {
  it('ignores what a re-send may change: time, trace and correlation attributes', () => {
    const resent = { ...base, time: '2030-01-01T00:00:00.000Z', traceparent: '00-x', correlationid: 'c' };
    expect(payloadHash(resent)).toBe(payloadHash(base));
    expect(payloadHash(base)).toMatch(/^[0-9a-f]{32}$/);
  });

  it('changes with the data, the type, the source, the key or the position', () => {
    const variants: Envelope[] = [
      { ...base, data: { amount: 13, items: ['a'] } },
      { ...base, type: 'order.cancelled' },
      { ...base, source: 'shop' },
      { ...base, subject: 'other' },
      { ...base, sequence: 4 },
    ];
    const hashes = new Set([base, ...variants].map(payloadHash));
    expect(hashes.size).toBe(variants.length + 1);
  });
});
