/** Dead letters for the `converge dlq` tests, stored straight into a consumer's database. */
import { createHash } from 'node:crypto';
import { type DeadLetter, failureFingerprint } from '../../core/src/index.js';

/**
 * Dead letter number `n` of consumer `billing`: a whole, replayable envelope of key `customer-n`
 * that failed with a terminal handler error; `overrides` change any field.
 */
export function deadLetter(n: number, overrides: Partial<DeadLetter> = {}): DeadLetter {
  const messageId = `0193aa71-0000-7000-8000-${String(n).padStart(12, '0')}`;
  const errorMessage = `contract ${n} not found`;
  const body = JSON.stringify({
    specversion: '1.0',
    id: messageId,
    source: 'customer-profile',
    type: 'customer.unsubscribed',
    subject: `customer-${n}`,
    sequence: 1,
    data: { customerId: `customer-${n}` },
  });
  return {
    consumer: 'billing',
    messageId,
    source: 'customer-profile',
    type: 'customer.unsubscribed',
    key: `customer-${n}`,
    sequence: 1,
    reason: 'HANDLER_TERMINAL_ERROR',
    errorClass: 'TerminalError',
    errorMessage,
    fingerprint: failureFingerprint('HANDLER_TERMINAL_ERROR', 'TerminalError', errorMessage),
    attempts: 1,
    policy: 'block-key',
    destination: 'billing',
    headers: {},
    body,
    bodySha256: createHash('sha256').update(body).digest('hex'),
    bodyBytes: Buffer.byteLength(body),
    bodyTruncated: false,
    firstFailedAt: new Date(),
    lastFailedAt: new Date(),
    ...overrides,
  };
}
