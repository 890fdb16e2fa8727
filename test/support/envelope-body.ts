/**
 * A received message's body as a producer would send it, with any attribute replaced or removed
 * (`undefined` drops it): for tests that publish straight to the transport.
 */
import { newMessageId } from '../../packages/core/src/index.js';

export function envelopeBody(fields: Record<string, unknown>): string {
  return JSON.stringify({
    specversion: '1.0',
    id: newMessageId(),
    source: 'customer-profile',
    type: 'customer.unsubscribed',
    time: new Date().toISOString(),
    datacontenttype: 'application/json',
    sequence: 1,
    data: {},
    ...fields,
  });
}
