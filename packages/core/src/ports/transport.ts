/**
 * The transport port: how messages travel between services. Adapters: the SQL log (a table in
 * SQLite or PostgreSQL), and later NATS JetStream, RabbitMQ, Kafka. Every adapter runs
 * `describeTransportContract` from `@converge/core/testing`.
 *
 * The contract, in prose:
 * - `publish` resolves only once every message is durably stored by the transport; if it
 *   rejects, any subset may have been stored (the relay publishes again; consumers deduplicate).
 * - A subscription delivers batches to `onBatch` one at a time. A batch counts as acknowledged
 *   only when `onBatch` resolves; if it rejects, or the process dies first, the same messages are
 *   delivered again (at-least-once).
 * - Within a consumer group, one subscriber at a time receives a given message.
 * - Order is the transport's publish order where `capabilities.ordered`; consumers never depend
 *   on it for correctness (the inbox reorders by `sequence`).
 */

/** What a transport can do, declared once. */
export interface TransportCapabilities {
  /** Messages survive a restart of the transport. */
  readonly durable: boolean;
  /** Delivery order equals publish order (for one publisher). */
  readonly ordered: boolean;
  /** Named consumer groups keep their own durable positions. */
  readonly consumerGroups: boolean;
}

/** A message handed to the transport by the relay. */
export interface OutgoingMessage {
  readonly messageId: string;
  readonly source: string;
  readonly type: string;
  readonly key: string;
  /** The serialized envelope. */
  readonly body: string;
}

/** A message handed to a subscriber. */
export interface Delivery {
  /** The transport's own id for this delivery (a log position, a stream sequence). */
  readonly transportId: string;
  readonly body: string;
}

export interface SubscribeOptions {
  /** The consumer group: each group receives every message once (at least). */
  readonly group: string;
  /** Largest batch handed to `onBatch`. Default 100. */
  readonly batchSize?: number;
  /** Called when the transport is unreachable; the subscription keeps retrying with backoff. */
  readonly onError?: (error: unknown) => void;
}

export interface Subscription {
  /** Stops delivering; resolves once the batch in progress, if any, is finished. */
  close(): Promise<void>;
}

export interface Publisher {
  publish(messages: readonly OutgoingMessage[]): Promise<void>;
}

export interface Subscriber {
  subscribe(
    options: SubscribeOptions,
    onBatch: (batch: readonly Delivery[]) => Promise<void>,
  ): Promise<Subscription>;
}

export interface Transport extends Publisher, Subscriber {
  readonly capabilities: TransportCapabilities;
  /** Where this transport points, safe to print. */
  readonly description: string;
  /** Closes connections the transport opened itself. */
  close(): Promise<void>;
}
