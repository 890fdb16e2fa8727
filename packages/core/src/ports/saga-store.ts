/**
 * Where an orchestrating service keeps its sagas: one row per saga instance (its state as the
 * engine's snapshot, plus the few columns the orchestrators query by) and an append-only log of
 * its transitions, in the orchestrator's own database (SQLite or PostgreSQL). No other server.
 *
 * Concurrency invariant: an orchestrator instance works on a saga only while it holds the saga's
 * lease, and every write it makes carries the fencing token it got with the lease. Each claim
 * increments the token, so an instance that was paused past its lease (GC, SIGSTOP) and wakes up
 * writes with an old token and is refused (`'fenced'`) — it can never overwrite the work of the
 * instance that took over. A transition is recorded by one durable write: the row update and the
 * log entry commit together, or neither does; one write may record several transitions that
 * happened one after the other (a step's result and the next step's start), each its own entry.
 */
import type { Transaction } from './storage.js';

/** Where a saga instance stands. Terminal: `completed`, `compensated`, `failed`. */
export const SagaStatus = {
  /** Steps are being run forward. */
  RUNNING: 'running',
  /** A step failed for good: completed steps are being undone in reverse order. */
  COMPENSATING: 'compensating',
  /** A compensation kept failing, or an operator stopped it: waits for a human (`resume`, `retry`, `compensate`, `cancel`). */
  NEEDS_ATTENTION: 'needs-attention',
  /** Every step succeeded. */
  COMPLETED: 'completed',
  /** A step failed and every completed step was undone. */
  COMPENSATED: 'compensated',
  /** Ended without completing and without undoing (cancelled by an operator, or no definition can run it). */
  FAILED: 'failed',
} as const;
export type SagaStatus = (typeof SagaStatus)[keyof typeof SagaStatus];

/** The saga statuses that will never change again by themselves. */
export const TERMINAL_SAGA_STATUSES: ReadonlySet<SagaStatus> = new Set([
  SagaStatus.COMPLETED,
  SagaStatus.COMPENSATED,
  SagaStatus.FAILED,
]);

/** One saga instance as stored. */
export interface SagaRecord {
  /** UUIDv7. */
  readonly id: string;
  /** The definition's name and the version the instance started with (it keeps it to the end). */
  readonly name: string;
  readonly version: number;
  readonly status: SagaStatus;
  /** The caller's idempotency key for the start, if given (unique per saga name). */
  readonly idempotencyKey: string | null;
  /** The saga's input, as JSON. */
  readonly input: unknown;
  /** The engine's state of the instance (steps, attempts, outputs, errors), as JSON; opaque to the store. */
  readonly snapshot: unknown;
  /** Runnable again not before this time (a retry's backoff, a step's timeout); null: now. */
  readonly wakeAt: Date | null;
  /** Why it is not running, when `needs-attention` or `failed`; null otherwise. */
  readonly reason: string | null;
  /** Incremented by each claim; writes must carry the current one. */
  readonly fencingToken: number;
  readonly leaseOwner: string | null;
  readonly leaseExpiresAt: Date | null;
  /** How many transitions have been recorded (the last entry's `seq`). */
  readonly transitions: number;
  readonly createdAt: Date;
  readonly updatedAt: Date;
}

/** One entry of a saga's transition log. */
export interface SagaTransition {
  readonly sagaId: string;
  /** 1, 2, 3 … per saga, with no gap. */
  readonly seq: number;
  /** What happened: `started`, `step-started`, `step-succeeded`, `step-failed`, `compensation-started`, … (the engine's vocabulary). */
  readonly kind: string;
  /** The step (or compensation's step) it concerns, if any. */
  readonly step: string | null;
  readonly attempt: number | null;
  /** The status after this transition. */
  readonly status: SagaStatus;
  /** Details: an error's class and message, an output, an operator's actor and reason; JSON. */
  readonly detail: unknown;
  /** The fencing token of the writer. */
  readonly fencingToken: number;
  readonly at: Date;
}

/** What `start` records. */
export interface SagaStart {
  readonly id: string;
  readonly name: string;
  readonly version: number;
  readonly input: unknown;
  readonly snapshot: unknown;
  readonly idempotencyKey: string | null;
  readonly at: Date;
  /**
   * Claims the new instance for `owner` in the same write (fencing token 1, as a claim would give),
   * so the orchestrator that starts it runs it without a claim; nobody is notified of it. Not
   * applied when the idempotency key was already used.
   */
  readonly lease?: SagaStartLease;
}

/** The lease a start takes for its own orchestrator (see `SagaStart.lease`). */
export interface SagaStartLease {
  readonly owner: string;
  readonly expiresAt: Date;
  /**
   * Transitions the holder records right after `started`, in the same write (the starts of the
   * first steps): each its own log entry with the lease's token; the row takes the last one's
   * status, snapshot, wake time and reason. Default none.
   */
  readonly writes?: readonly SagaWrite[];
}

/** A saga an orchestrator holds: its id and the fencing token of its claim (see `renewLeases`). */
export interface HeldSaga {
  readonly id: string;
  readonly fencingToken: number;
}

/** A claimed saga: the record and the token every write must carry. */
export interface ClaimedSaga {
  readonly record: SagaRecord;
  readonly fencingToken: number;
}

/** One transition to record under a lease. */
export interface SagaWrite {
  readonly status: SagaStatus;
  readonly snapshot: unknown;
  readonly wakeAt: Date | null;
  readonly reason: string | null;
  readonly transition: {
    readonly kind: string;
    readonly step: string | null;
    readonly attempt: number | null;
    readonly detail: unknown;
  };
  readonly at: Date;
}

/** Transitions recorded by one durable write, in the order they happened (at least one). */
export type SagaWrites = readonly [SagaWrite, ...SagaWrite[]];

/** Options of `record`. */
export interface SagaRecordOptions {
  /**
   * Give the lease up in the same statement: the writer holds the saga no longer after this write
   * (it waits past its hold, needs attention, or stops). A terminal status always gives it up.
   */
  readonly release?: boolean;
}

/** Filters of `list`. */
export interface SagaListFilter {
  readonly status?: SagaStatus;
  readonly name?: string;
  readonly since?: Date;
  readonly limit?: number;
}

/** Saga name → the definition versions an orchestrator can run (see `claim` and `OrchestratorHeartbeat`). */
export type SagaVersions = Readonly<Record<string, readonly number[]>>;

/** An orchestrator instance's report of itself. */
export interface OrchestratorHeartbeat {
  readonly orchestratorId: string;
  readonly host: string | null;
  readonly pid: number | null;
  /** Saga name → the versions this instance has registered. */
  readonly definitions: SagaVersions;
  readonly at: Date;
  readonly stoppedAt: Date | null;
}

/** Which heartbeat rows `heartbeatOrchestrator` deletes along with its write. */
export interface OrchestratorPruning {
  /** Rows of other instances whose last heartbeat (a stop is the last) is older than this. */
  readonly silentBefore: Date;
  /** At most this many per call, the longest silent first. */
  readonly limit: number;
}

/** How a fenced write ended. `fenced`: the lease was lost (another instance holds the saga now); nothing was written. */
export type SagaWriteOutcome = 'recorded' | 'fenced';

/**
 * The saga rows of one orchestrating service's database.
 */
export interface SagaStore {
  /**
   * Records a new instance (status `running`, runnable now — or held by `start.lease`'s owner)
   * and its `started` transition, in the caller's transaction when `tx` is given. With an idempotency key already used for this saga
   * name, records nothing and returns the existing instance with `created: false`.
   */
  start(
    start: SagaStart,
    tx?: Transaction,
  ): Promise<{ readonly record: SagaRecord; readonly created: boolean }>;
  /**
   * Claims up to `limit` runnable sagas for `owner` for `leaseMs`: status `running` or
   * `compensating`, `wakeAt` passed or null, and no unexpired lease. Each claim increments the
   * fencing token. Oldest `wakeAt`/creation first. Safe with many orchestrators at once (`FOR
   * UPDATE SKIP LOCKED` on PostgreSQL; the single writer on SQLite). With `runnable`, only sagas
   * whose (name, version) it lists: an orchestrator never claims an instance whose definition
   * version it does not have (it stays for one that has it, see `listStranded`).
   */
  claim(
    owner: string,
    leaseMs: number,
    limit: number,
    now: Date,
    runnable?: SagaVersions,
  ): Promise<ClaimedSaga[]>;
  /** Extends the lease if `fencingToken` is still current; `'fenced'` otherwise. */
  renew(id: string, fencingToken: number, leaseMs: number, now: Date): Promise<SagaWriteOutcome>;
  /**
   * Extends the leases of all the sagas an orchestrator holds, in one statement (one write however
   * many it holds): each as `renew` would, only if its fencing token is still current and its lease
   * was not released. Returns the ids of those that were not extended — fenced: the caller
   * abandons exactly those. An empty `held` writes nothing.
   */
  renewLeases(held: readonly HeldSaga[], leaseMs: number, now: Date): Promise<string[]>;
  /**
   * Records one transition, or several in the order they happened, if `fencingToken` is current —
   * one transaction: the row takes the last write's status, snapshot, `wakeAt`, reason and time,
   * and the log gets one entry per write (its kind, step, attempt, status, detail and time) with
   * consecutive seqs, or nothing is written (`'fenced'`). A terminal status (of the last write),
   * or `options.release`, gives the lease up in the same statement.
   */
  record(
    id: string,
    fencingToken: number,
    write: SagaWrite | SagaWrites,
    options?: SagaRecordOptions,
  ): Promise<SagaWriteOutcome>;
  /** Gives the lease up (on stop, or when the last write did not) if the token is current. */
  release(id: string, fencingToken: number): Promise<SagaWriteOutcome>;
  /**
   * An operator's action, outside any lease: takes the saga over (increments the token, so a
   * running holder is fenced off), records the transition with `detail` {actor, reason, …}, and
   * sets status/snapshot/wakeAt. Returns the new record, or undefined if there is no such saga.
   *
   * `expectedTransitions` is the `transitions` count of the record the write was computed from:
   * when an orchestrator recorded a transition in between (a completion racing a `cancel`), the
   * write would overwrite it, so nothing is written and `'changed'` comes back — read again and
   * decide again.
   */
  intervene(
    id: string,
    write: SagaWrite,
    expectedTransitions?: number,
  ): Promise<SagaRecord | 'changed' | undefined>;
  get(id: string): Promise<SagaRecord | undefined>;
  list(filter: SagaListFilter): Promise<SagaRecord[]>;
  /** The transition log of one saga, in order. */
  transitions(id: string): Promise<SagaTransition[]>;
  /** Counts by status (for reports and the demo). */
  countByStatus(): Promise<Readonly<Record<SagaStatus, number>>>;
  /**
   * Records that an orchestrator instance is alive and which definitions (name → versions) it
   * runs; called at start, once per heartbeat interval, and on stop (with `stoppedAt`). With
   * `prune`, the same write deletes the rows of instances stopped or silent since before
   * `prune.silentBefore` (never the heartbeat's own; at most `prune.limit`) and returns their ids;
   * without it, nothing is deleted.
   */
  heartbeatOrchestrator(heartbeat: OrchestratorHeartbeat, prune?: OrchestratorPruning): Promise<string[]>;
  /**
   * Sagas not yet final whose (name, version) no orchestrator registers that is alive (a heartbeat
   * at or after `aliveSince`, not stopped): nobody will run them until that version is deployed
   * again (`converge saga list --stranded`). Oldest first.
   */
  listStranded(aliveSince: Date, limit: number): Promise<SagaRecord[]>;
}
