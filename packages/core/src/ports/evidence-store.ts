/**
 * What Converge has recorded in one service's database that tells how transactionally coupled it
 * is to the others: the messages its outbox committed, the receipts its inbox recorded for
 * messages from other services, and its failures (dead letters, messages still retrying). Read
 * by `converge ownership coupling`, never on the message path. Each list is bounded by `limit`
 * (newest first) so a long history cannot exhaust memory.
 */

/** A message this service's outbox committed. */
export interface ProducedEvidence {
  readonly messageId: string;
  readonly source: string;
  readonly type: string;
  readonly key: string;
  readonly createdAt: Date;
  /** The envelope's `correlationid`, if any. */
  readonly correlationId: string | null;
  /** The envelope's `causationid` (the message this one reacted to), if any. */
  readonly causationId: string | null;
}

/** A receipt this service's inbox recorded. */
export interface ReceiptEvidence {
  readonly consumer: string;
  readonly messageId: string;
  readonly source: string;
  /** `applied`, `ignored` or `dead-lettered`. */
  readonly outcome: string;
  readonly receivedAt: Date;
}

/** A failure on this service's inbox: a dead letter, or a message still being retried. */
export interface FailureEvidence {
  readonly consumer: string;
  /** The sending service, when the message could be read. */
  readonly source: string | null;
  /** A dead-letter reason code, or `RETRYING` for a parked message with failed attempts. */
  readonly reason: string;
  readonly attempts: number;
  readonly at: Date;
}

export interface EvidenceStore {
  produced(since: Date, limit: number): Promise<ProducedEvidence[]>;
  receipts(since: Date, limit: number): Promise<ReceiptEvidence[]>;
  failures(since: Date, limit: number): Promise<FailureEvidence[]>;
}
