/**
 * Runs one claimed saga under its lease until there is nothing more to do now: asks the state
 * machine for the next actions, records each start (one `store.record`), calls the participant,
 * records the result (one `store.record`), and again — until the saga halts (final or
 * `needs-attention`), or waits longer than a poll interval (a backoff: the lease is released and
 * the stored `wakeAt` brings the saga back), or the orchestrator stops, or the lease is lost.
 *
 * Concurrency invariant (the lease): everything this runner writes carries the fencing token it
 * claimed the saga with, and the store refuses a write with an older token. While the runner holds
 * the saga, its orchestrator renews the lease every `leaseMs / 3` (the leases of all its runners
 * in one statement, see saga-orchestrator.ts), so a live runner keeps it; a runner paused past its
 * lease (GC, SIGSTOP) may find the saga claimed by another instance, and then its first write comes
 * back `'fenced'`, or its orchestrator's renewal reports the saga fenced (`leaseLost`): it aborts
 * its calls in flight, ignores their results and writes nothing more — the new holder re-issues
 * any attempt it left in flight with the same idempotency key, so the participant applies the
 * effect once. A store error leaves the outcome of that write unknown,
 * so it is treated the same way: the runner gives the saga up without writing, and it is claimed
 * again (with a new token) once the lease expires.
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
import type { ClaimedSaga, HeldSaga, SagaStore } from '../ports/saga-store.js';
import { callSagaAction, type SagaCallResult } from './saga-call.js';
import type { SagaDefinition } from './saga-definition.js';
import type { SagaEvent } from './saga-event.js';
import type { SagaSnapshot } from './saga-snapshot.js';
import { applyEvent, nextActions, type SagaAction } from './saga-state-machine.js';

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
  readonly #input: unknown;
  #snapshot: SagaSnapshot;
  readonly #calls = new Map<string, Promise<SagaCallResult>>();
  readonly #abandon = new AbortController();
  readonly #waker = new Waker();
  #stopping = false;
  #finished = false;

  constructor(claimed: ClaimedSaga, definition: SagaDefinition, options: SagaRunnerOptions) {
    this.#options = options;
    this.#definition = definition;
    this.#id = claimed.record.id;
    this.#token = claimed.fencingToken;
    this.#input = claimed.record.input;
    this.#snapshot = claimed.record.snapshot as SagaSnapshot;
  }

  get sagaId(): string {
    return this.#id;
  }

  /** The lease to renew, while the runner still holds it; null once it ended or gave the saga up. */
  get held(): HeldSaga | null {
    return this.#finished || this.#abandon.signal.aborted
      ? null
      : { id: this.#id, fencingToken: this.#token };
  }

  /** Its orchestrator's renewal found the lease lost: gives the saga up (see the invariant above). */
  leaseLost(): void {
    if (!this.#finished) this.#giveUp('fenced');
  }

  /** Starts no new call; lets the calls in flight end (each within its timeout) and records them. */
  stop(): void {
    this.#stopping = true;
    this.#waker.wake();
  }

  /** Runs until there is nothing more to do now; never throws. */
  async run(): Promise<void> {
    try {
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
    if (this.#abandon.signal.aborted) return;
    await this.#options.store.release(this.#id, this.#token).catch((error: unknown) => {
      this.#options.logger.warn(
        { sagaId: this.#id, error: describeError(error) },
        `could not release the lease of saga ${this.#id}; it is claimable again when the lease expires`,
      );
    });
  }

  async #drive(): Promise<void> {
    const lease = { sagaId: this.#id, fencingToken: this.#token };
    while (!this.#abandon.signal.aborted) {
      const now = this.#options.clock();
      const plan = nextActions(this.#snapshot, this.#definition, now, lease);
      if (plan.halted) return;
      if (plan.settle) {
        if (!(await this.#record({ kind: 'saga-settled' }))) return;
        continue;
      }
      if (!this.#stopping) {
        for (const action of plan.actions) if (!(await this.#begin(action))) return;
      }
      if (this.#calls.size > 0) {
        const settled = await Promise.race(this.#calls.values());
        this.#calls.delete(keyOf(settled.action));
        if (settled.event === null || !(await this.#record(settled.event))) return;
        continue;
      }
      if (this.#stopping || plan.waitUntil === null) return;
      const waitMs = plan.waitUntil.getTime() - now.getTime();
      if (waitMs > this.#options.holdMs) return;
      await this.#waker.wait(waitMs);
    }
  }

  /** Records the attempt's start, then starts the call. False when the saga was given up. */
  async #begin(action: SagaAction): Promise<boolean> {
    const undo = action.kind === 'run-compensation';
    if (!undo) this.#options.faults.reach(FaultPoint.SAGA_BEFORE_STEP_STARTED);
    const started: SagaEvent = {
      kind: undo ? 'compensation-started' : 'step-started',
      step: action.step,
      fencingToken: this.#token,
    };
    if (!(await this.#record(started))) return false;
    if (!undo) this.#options.faults.reach(FaultPoint.SAGA_AFTER_STEP_STARTED);
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
    return true;
  }

  /** Applies `event` and records it under the lease. False when the saga was given up. */
  async #record(event: SagaEvent): Promise<boolean> {
    const { snapshot, write } = applyEvent(this.#snapshot, event, this.#definition, this.#options.clock(), {
      random: this.#options.random,
    });
    let outcome: 'recorded' | 'fenced';
    try {
      outcome = await this.#options.store.record(this.#id, this.#token, write);
    } catch (error) {
      this.#giveUp('failed', error);
      return false;
    }
    if (outcome === 'fenced') {
      this.#giveUp('fenced');
      return false;
    }
    this.#snapshot = snapshot;
    return true;
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

function keyOf(action: SagaAction): string {
  return `${action.kind}:${action.step}`;
}
