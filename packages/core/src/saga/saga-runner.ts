/**
 * Runs one claimed saga under its lease until there is nothing more to do now: asks the state
 * machine for the next actions, records their starts, calls the participants, records each result
 * together with the starts it makes due (the next step's, or the next compensation's), and again —
 * until the saga halts (final or `needs-attention`), or waits longer than a poll interval (a
 * backoff: the stored `wakeAt` brings the saga back), or the orchestrator stops, or the lease is
 * lost.
 *
 * Writes. Each `store.record` is one durable write of one or more transitions, each still its own
 * entry in the transition log: a result and the starts after it (`step-succeeded` of step k and
 * `step-started` of step k+1), or the starts of a parallel group. A start is always recorded
 * before its call (`FaultPoint.SAGA_BEFORE_STEP_STARTED` before the write, `SAGA_AFTER_STEP_STARTED`
 * after it), so a crash before the write leaves the previous attempt in flight (re-issued with its
 * key, as for a crash before its result) and a crash after it leaves the new attempt in flight.
 * The write after which the runner holds the saga no longer (it halts, it waits past `holdMs`, it
 * stops) gives the lease up in the same statement; only a runner that ends otherwise releases it
 * with a statement of its own. A saga its orchestrator held from its start has its first starts
 * recorded by that start (`startsDue`), and its runner begins with their calls. See ADR 0020's
 * addendum.
 *
 * Concurrency invariant (the lease): everything this runner writes carries the fencing token it
 * claimed the saga with, and the store refuses a write with an older token. While the runner holds
 * the saga, its orchestrator renews the lease every `leaseMs / 3` (the leases of all its runners
 * in one statement, see saga-orchestrator.ts), so a live runner keeps it; a runner paused past its
 * lease (GC, SIGSTOP) may find the saga claimed by another instance, and then its first write comes
 * back `'fenced'`, or its orchestrator's renewal reports the saga fenced (`leaseLost`): it aborts
 * its calls in flight, ignores their results and writes nothing more — the new holder re-issues
 * any attempt it left in flight with the same idempotency key, so the participant applies the
 * effect once. A store error leaves the outcome of that write unknown, so it is treated the same
 * way: the runner gives the saga up without writing, and it is claimed again (with a new token)
 * once the lease expires.
 *
 * Concurrency invariant (parallel steps): the calls of a parallel group run at once, but their
 * events are applied and recorded one at a time, each to the snapshot the previous one produced,
 * so the stored snapshot and the transition log never skip an event.
 */
import { describeError } from '../core/errors.js';
import { Waker } from '../core/waker.js';
import type { FaultInjector } from '../ports/fault-points.js';
import { FaultPoint } from '../ports/fault-points.js';
import type { Logger } from '../ports/logger.js';
import type { ClaimedSaga, HeldSaga, SagaStore, SagaWrite, SagaWriteOutcome } from '../ports/saga-store.js';
import { callSagaAction, type SagaCallResult } from './saga-call.js';
import type { SagaDefinition } from './saga-definition.js';
import type { SagaEvent } from './saga-event.js';
import type { SagaSnapshot } from './saga-snapshot.js';
import {
  applyEvent,
  nextActions,
  type SagaAction,
  type SagaLease,
  type SagaPlan,
} from './saga-state-machine.js';

/** What a runner shares with its orchestrator. */
export interface SagaRunnerOptions {
  readonly store: SagaStore;
  /** A wait for a due time longer than this releases the saga instead of holding it. */
  readonly holdMs: number;
  readonly clock: () => Date;
  readonly random: () => number;
  readonly logger: Logger;
  readonly faults: FaultInjector;
}

/** Runs one claimed saga; see the top of this file. */
export class SagaRunner {
  readonly #options: SagaRunnerOptions;
  readonly #definition: SagaDefinition;
  readonly #id: string;
  readonly #token: number;
  readonly #lease: SagaLease;
  readonly #input: unknown;
  #snapshot: SagaSnapshot;
  readonly #calls = new Map<string, Promise<SagaCallResult>>();
  readonly #abandon = new AbortController();
  readonly #waker = new Waker();
  #stopping = false;
  #finished = false;
  /** A write that gives the lease up is under way, or done: the runner writes nothing after it. */
  #releasing = false;
  #released = false;

  constructor(claimed: ClaimedSaga, definition: SagaDefinition, options: SagaRunnerOptions) {
    this.#options = options;
    this.#definition = definition;
    this.#id = claimed.record.id;
    this.#token = claimed.fencingToken;
    this.#lease = { sagaId: this.#id, fencingToken: this.#token };
    this.#input = claimed.record.input;
    this.#snapshot = claimed.record.snapshot as SagaSnapshot;
  }

  get sagaId(): string {
    return this.#id;
  }

  /** The lease to renew, while the runner still holds it; null once it ended or gave the saga up. */
  get held(): HeldSaga | null {
    return this.#finished || this.#releasing || this.#abandon.signal.aborted
      ? null
      : { id: this.#id, fencingToken: this.#token };
  }

  /**
   * Its orchestrator's renewal found the lease lost: gives the saga up (see the invariant above).
   * Not after a write that gives the lease up: that write's own outcome says whether it was fenced.
   */
  leaseLost(): void {
    if (!this.#finished && !this.#releasing) this.#giveUp('fenced');
  }

  /** Starts no new call; lets the calls in flight end (each within its timeout) and records them. */
  stop(): void {
    this.#stopping = true;
    this.#waker.wake();
  }

  /**
   * Runs until there is nothing more to do now; never throws. `started`: the actions whose starts
   * the saga's claim already recorded (a start that holds its saga, see `startsDue`), called first.
   */
  async run(started: readonly SagaAction[] = []): Promise<void> {
    try {
      for (const action of started) this.#call(action);
      await this.#drive();
    } catch (error) {
      // A bug (a definition changed under its name and version, an invalid event): never a hot loop,
      // the saga waits for its lease to expire and the log says why.
      this.#options.logger.error(
        { sagaId: this.#id, error: describeError(error) },
        `saga ${this.#id} cannot be run: ${describeError(error).message}`,
      );
      this.#giveUp('failed', error);
    } finally {
      this.#finished = true;
      // Let abandoned calls see their signal; their results are ignored.
      await Promise.allSettled(this.#calls.values());
    }
    if (this.#abandon.signal.aborted || this.#released) return;
    await this.#options.store.release(this.#id, this.#token).catch((error: unknown) => {
      this.#options.logger.warn(
        { sagaId: this.#id, error: describeError(error) },
        `could not release the lease of saga ${this.#id}; it is claimable again when the lease expires`,
      );
    });
  }

  async #drive(): Promise<void> {
    while (!this.#abandon.signal.aborted && !this.#released) {
      const now = this.#options.clock();
      const plan = nextActions(this.#snapshot, this.#definition, now, this.#lease);
      if (plan.halted) return;
      if (plan.settle) {
        if (!(await this.#write({ kind: 'saga-settled' }))) return;
        continue;
      }
      if (!this.#stopping && plan.actions.length > 0 && !(await this.#write(null))) return;
      if (this.#calls.size > 0) {
        const settled = await Promise.race(this.#calls.values());
        this.#calls.delete(keyOf(settled.action));
        if (settled.event === null || !(await this.#write(settled.event))) return;
        continue;
      }
      if (this.#holdEnds(plan, now, 0)) return;
      await this.#waker.wait(plan.waitUntil!.getTime() - now.getTime());
    }
  }

  /**
   * One durable write: applies `event` (a call's result, or none), then the start of every action
   * it makes due now, records them all in one `store.record` — giving the lease up in it when the
   * runner will hold the saga no longer — and then starts those calls. False when the saga was
   * given up.
   */
  async #write(event: SagaEvent | null): Promise<boolean> {
    const now = this.#options.clock();
    const result =
      event === null
        ? null
        : applyEvent(this.#snapshot, event, this.#definition, now, { random: this.#options.random });
    const { plan, starts, snapshot, ...due } = startsDue(
      result?.snapshot ?? this.#snapshot,
      this.#definition,
      now,
      this.#lease,
      { ...this.#options, stopping: this.#stopping },
    );
    const [first, ...rest] = result === null ? due.writes : [result.write, ...due.writes];
    if (first === undefined) return true;
    // With nothing started, `plan` is what is left once this write is recorded.
    const release = starts.length === 0 && this.#holdEnds(plan, now, this.#calls.size);
    this.#releasing = release;
    let outcome: SagaWriteOutcome;
    try {
      outcome = await this.#options.store.record(this.#id, this.#token, [first, ...rest], { release });
    } catch (error) {
      this.#giveUp('failed', error);
      return false;
    }
    if (outcome === 'fenced') {
      this.#giveUp('fenced');
      return false;
    }
    this.#snapshot = snapshot;
    this.#released = release;
    for (const action of starts) this.#call(action);
    return true;
  }

  /**
   * True when the runner holds the saga no longer once `plan` is what is left to do: it is halted,
   * or nothing is in flight (`inFlight` calls) and nothing is due within `holdMs` (or it stops).
   * The drive loop ends then, and the last write gave the lease up.
   */
  #holdEnds(plan: SagaPlan, now: Date, inFlight: number): boolean {
    if (plan.halted) return true;
    if (inFlight > 0 || plan.settle) return false;
    if (this.#stopping || plan.waitUntil === null) return true;
    return plan.waitUntil.getTime() - now.getTime() > this.#options.holdMs;
  }

  /** Starts the call of an action whose start was just recorded. */
  #call(action: SagaAction): void {
    if (action.kind === 'run-step') this.#options.faults.reach(FaultPoint.SAGA_AFTER_STEP_STARTED);
    if (action.reissue) {
      this.#options.logger.info(
        { sagaId: this.#id, step: action.step, attempt: action.attempt, kind: action.kind },
        `saga ${this.#id}: re-issuing '${action.step}' (left in flight by an earlier holder) with the same idempotency key`,
      );
    }
    const call = callSagaAction({
      sagaId: this.#id,
      definition: this.#definition,
      snapshot: this.#snapshot,
      input: this.#input,
      action,
      abandon: this.#abandon.signal,
      faults: this.#options.faults,
    });
    this.#calls.set(keyOf(action), call);
  }

  /** Abandons the saga: aborts its calls, writes nothing more (see the invariant above). */
  #giveUp(why: 'fenced' | 'failed', error?: unknown): void {
    if (this.#abandon.signal.aborted) return;
    const message =
      why === 'fenced'
        ? `saga ${this.#id}: another orchestrator holds it now (fencing token ${this.#token} is stale); giving it up`
        : `saga ${this.#id}: a write failed or could not be made, so its outcome is unknown; giving the saga up until its lease expires`;
    this.#options.logger.warn(
      {
        sagaId: this.#id,
        fencingToken: this.#token,
        ...(error === undefined ? {} : { error: describeError(error) }),
      },
      message,
    );
    this.#abandon.abort(new Error(message));
    this.#waker.wake();
  }
}

/** What `startsDue` found. */
export interface StartsDue {
  /** The plan for the snapshot before the starts: what is left once they are recorded when there are none. */
  readonly plan: SagaPlan;
  readonly starts: readonly SagaAction[];
  /** The snapshot after the starts, and their writes in order (none when nothing starts). */
  readonly snapshot: SagaSnapshot;
  readonly writes: readonly SagaWrite[];
}

/**
 * The actions due now for a saga held under `lease`, and their starts applied to `snapshot`: what
 * a runner records before calling them. None while stopping. Reaches
 * `FaultPoint.SAGA_BEFORE_STEP_STARTED` before each step's start.
 */
export function startsDue(
  snapshot: SagaSnapshot,
  definition: SagaDefinition,
  now: Date,
  lease: SagaLease,
  options: Pick<SagaRunnerOptions, 'random' | 'faults'> & { readonly stopping?: boolean },
): StartsDue {
  const plan = nextActions(snapshot, definition, now, lease);
  const starts = options.stopping === true || plan.halted || plan.settle ? [] : plan.actions;
  let next = snapshot;
  const writes: SagaWrite[] = [];
  for (const action of starts) {
    const undo = action.kind === 'run-compensation';
    if (!undo) options.faults.reach(FaultPoint.SAGA_BEFORE_STEP_STARTED);
    const started: SagaEvent = {
      kind: undo ? 'compensation-started' : 'step-started',
      step: action.step,
      fencingToken: lease.fencingToken,
    };
    const applied = applyEvent(next, started, definition, now, { random: options.random });
    next = applied.snapshot;
    writes.push(applied.write);
  }
  return { plan, starts, snapshot: next, writes };
}

function keyOf(action: SagaAction): string {
  return `${action.kind}:${action.step}`;
}
