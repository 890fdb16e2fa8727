import { describe, expect, it } from 'vitest';
import { checkIdempotencyKey } from './participant-responses.js';

const detail = (result: ReturnType<typeof checkIdempotencyKey>) =>
  'refusal' in result ? (JSON.parse(result.refusal.body) as { status: number; detail: string }) : undefined;

describe('checkIdempotencyKey', () => {
  it('accepts 1 to 255 printable ASCII characters, spaces included', () => {
    expect(checkIdempotencyKey('0190a3b4-1c2d:charge', false)).toEqual({ key: '0190a3b4-1c2d:charge' });
    expect(checkIdempotencyKey('a b', true)).toEqual({ key: 'a b' });
    expect(checkIdempotencyKey('k'.repeat(255), false)).toEqual({ key: 'k'.repeat(255) });
  });

  it('lets a request without a key through unless keys are required', () => {
    expect(checkIdempotencyKey(undefined, false)).toEqual({ key: undefined });
    expect(detail(checkIdempotencyKey(undefined, true))).toMatchObject({
      status: 400,
      detail: expect.stringContaining('requires an Idempotency-Key header'),
    });
  });

  it.each([
    ['empty', '', 'is empty'],
    ['too long', 'k'.repeat(256), 'is 256 characters long'],
    ['a control character', 'a\tb', 'outside printable ASCII'],
    ['a non-ASCII character', 'café', 'outside printable ASCII'],
  ])('refuses a key that is %s with 400 saying what to send', (_name, key, says) => {
    const problem = detail(checkIdempotencyKey(key, false));
    expect(problem?.status).toBe(400);
    expect(problem?.detail).toContain(says);
    expect(problem?.detail).toContain('send 1 to 255 printable ASCII characters');
  });
});
