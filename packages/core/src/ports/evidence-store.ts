/**
 * What Converge has recorded in one service's database that tells how transactionally coupled it
 * is to the others: the messages its outbox committed, the receipts its inbox recorded for
 * messages from other services, its failures (dead letters, messages still retrying), and the
 * sagas it orchestrated (the services their steps called, what was undone, who had to step in). Read
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

/** A saga this service's orchestrator ran: a business transaction across the services its steps call. */
export interface SagaEvidence {
  readonly sagaId: string;
  /** The definition's name. */
  readonly name: string;
  /** Its `SagaStatus` now. */
  readonly status: string;
  /** The services its steps call (the steps' `service`), each once, in the definition's order; steps without one are left out. */
  readonly services: readonly string[];
  /** The steps whose compensation succeeded: effects undone by hand-written code. */
  readonly compensatedSteps: readonly string[];
  /** It waits, or once waited, for a person (`needs-attention` anywhere in its transitions). */
  readonly neededAttention: boolean;
  readonly startedAt: Date;
  /** When it ended (`completed`, `compensated`, `failed`); null while it is not over. */
  readonly endedAt: Date | null;
}

export interface EvidenceStore {
  produced(since: Date, limit: number): Promise<ProducedEvidence[]>;
  receipts(since: Date, limit: number): Promise<ReceiptEvidence[]>;
  failures(since: Date, limit: number): Promise<FailureEvidence[]>;
  /** The sagas started since `since`, newest first, at most `limit`; none when the database has no saga table yet. */
  sagas(since: Date, limit: number): Promise<SagaEvidence[]>;
}
