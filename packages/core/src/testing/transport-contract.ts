/**
 * The contract every `Transport` adapter must keep (see the prose at the top of
 * `ports/transport.ts`), as a Vitest suite: `describeTransportContract('nats', factory)`.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Delivery, OutgoingMessage, Subscription, Transport } from '../ports/transport.js';
import { waitFor } from './wait-for.js';

/** Creates a transport over fresh, empty storage for one test, and removes it afterwards. */
export type TransportFactory = () => Promise<{ transport: Transport; cleanup: () => Promise<void> }>;

function messages(from: number, count: number, key = 'k'): OutgoingMessage[] {
  return Array.from({ length: count }, (_, i) => ({
    messageId: `m-${from + i}`,
    source: 'orders',
    type: 'order.placed',
    key,
    body: JSON.stringify({ n: from + i }),
  }));
}

const numbers = (batch: readonly Delivery[]) => batch.map((d) => (JSON.parse(d.body) as { n: number }).n);

/** Registers the transport contract suite. */
export function describeTransportContract(name: string, factory: TransportFactory): void {
  describe(`Transport contract: ${name}`, () => {
    let transport: Transport;
    let cleanup: () => Promise<void>;
    const subscriptions: Subscription[] = [];

    beforeEach(async () => {
      ({ transport, cleanup } = await factory());
    });
    afterEach(async () => {
      await Promise.all(subscriptions.splice(0).map((s) => s.close()));
      await transport.close();
      await cleanup();
    });

    const subscribe = async (
      group: string,
      onBatch: (batch: readonly Delivery[]) => Promise<void>,
      batchSize = 10,
    ) => {
      const subscription = await transport.subscribe({ group, batchSize }, onBatch);
      subscriptions.push(subscription);
      return subscription;
    };

    it('delivers every published message, with the exact body', async () => {
      const seen: number[] = [];
      await subscribe('billing', async (batch) => {
        seen.push(...numbers(batch));
      });
      await transport.publish(messages(1, 25));
      await transport.publish(messages(26, 5));
      await waitFor('30 messages', () => seen.length >= 30);
      expect([...new Set(seen)].sort((a, b) => a - b)).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
      if (transport.capabilities.ordered) expect(seen).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
    });

    it('delivers a batch again when its handler fails (at-least-once)', async () => {
      const seen: number[] = [];
      let failuresLeft = 2;
      await subscribe('billing', async (batch) => {
        if (failuresLeft > 0) {
          failuresLeft -= 1;
          throw new Error('database down');
        }
        seen.push(...numbers(batch));
      });
      await transport.publish(messages(1, 3));
      await waitFor('3 messages after two failures', () => new Set(seen).size >= 3);
      expect(failuresLeft).toBe(0);
      expect([...new Set(seen)].sort()).toEqual([1, 2, 3]);
    });

    it('gives every consumer group every message', async () => {
      const billing: number[] = [];
      const shipping: number[] = [];
      await subscribe('billing', async (batch) => {
        billing.push(...numbers(batch));
      });
      await subscribe('shipping', async (batch) => {
        shipping.push(...numbers(batch));
      });
      await transport.publish(messages(1, 12));
      await waitFor('both groups', () => new Set(billing).size >= 12 && new Set(shipping).size >= 12);
      expect(new Set(billing).size).toBe(12);
      expect(new Set(shipping).size).toBe(12);
    });

    it('a new subscription of a group resumes after what the group acknowledged', async () => {
      const first: number[] = [];
      const subscription = await subscribe('billing', async (batch) => {
        first.push(...numbers(batch));
      });
      await transport.publish(messages(1, 5));
      await waitFor('first 5', () => first.length >= 5);
      await subscription.close();
      await transport.publish(messages(6, 5));
      const second: number[] = [];
      await subscribe('billing', async (batch) => {
        second.push(...numbers(batch));
      });
      await waitFor('next 5', () => new Set(second).size >= 5);
      expect([...new Set(second)].sort((a, b) => a - b)).toEqual([6, 7, 8, 9, 10]);
    });

    it('two subscribers of one group never handle batches concurrently and together see everything', async () => {
      const seen = new Set<number>();
      let inFlight = 0;
      let overlapped = false;
      const handler = async (batch: readonly Delivery[]) => {
        inFlight += 1;
        if (inFlight > 1) overlapped = true;
        await new Promise((resolve) => setTimeout(resolve, 5));
        for (const n of numbers(batch)) seen.add(n);
        inFlight -= 1;
      };
      await subscribe('billing', handler, 3);
      await subscribe('billing', handler, 3);
      await transport.publish(messages(1, 30));
      await waitFor('30 messages across both subscribers', () => seen.size >= 30);
      expect(overlapped).toBe(false);
    });
  });
}
