import { describe, expect, it } from 'vitest';
import { requestHash } from './request-hash.js';

describe('requestHash', () => {
  const base = requestHash('POST', '/charges', '{"customer":"c-1","cents":500}');

  it('is the same for the same JSON values in another key order or layout', () => {
    expect(requestHash('post', '/charges', '{ "cents": 500,\n  "customer": "c-1" }')).toBe(base);
  });

  it('differs when the method, the path, the query or a value differs', () => {
    const others = [
      requestHash('PUT', '/charges', '{"customer":"c-1","cents":500}'),
      requestHash('POST', '/refunds', '{"customer":"c-1","cents":500}'),
      requestHash('POST', '/charges?dry=1', '{"customer":"c-1","cents":500}'),
      requestHash('POST', '/charges', '{"customer":"c-1","cents":501}'),
      requestHash('POST', '/charges', '{"customer":"c-1","cents":"500"}'),
    ];
    expect(new Set([base, ...others]).size).toBe(6);
  });

  it('hashes a body that is not JSON as its exact text', () => {
    expect(requestHash('POST', '/notes', 'hello ')).not.toBe(requestHash('POST', '/notes', 'hello'));
    expect(requestHash('POST', '/notes', 'hello')).toBe(requestHash('POST', '/notes', 'hello'));
  });
});
