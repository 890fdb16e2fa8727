/**
 * Plays the users of Customer Profile: sends the planned commands over HTTP, several at a time
 * but each customer's in order, and retries one whose answer did not come (the service was
 * killed) with the same `requestId` until it is answered, so a command is never lost and never
 * applied twice. Steps that are not commands (the faulty producer's bad event) are done by
 * `injectBadEvent`.
 */
import { readFileSync } from 'node:fs';
import type { CommandOutcome } from '../services/customer-profile.js';
import { customerOf, type Plan, type Step } from './plan.js';

export interface WorkloadResult {
  /** Commands answered `applied` the first time, or `duplicate` on a retry after a lost answer. */
  readonly applied: number;
  /** Retries after a lost answer that found the command already applied. */
  readonly duplicatesAbsorbed: number;
  /** Commands refused in the customer's state: the plan never makes one, so any is a defect. */
  readonly rejected: number;
  /** Sends retried because Customer Profile was down or did not answer. */
  readonly retriedSends: number;
}

export interface WorkloadOptions {
  readonly plan: Plan;
  readonly portFile: string;
  readonly concurrency: number;
  /** Most commands started per second: traffic, not a bulk load, so the faults land during it. */
  readonly ratePerSecond: number;
  readonly deadline: number;
  readonly injectBadEvent: (customerId: string) => Promise<void>;
  readonly onStepDone: () => void;
}

export async function runWorkload(options: WorkloadOptions): Promise<WorkloadResult> {
  const counts = { applied: 0, duplicatesAbsorbed: 0, rejected: 0, retriedSends: 0 };
  const slots = new Slots(options.concurrency);
  const lastOfCustomer = new Map<string, Promise<void>>();
  const started = Date.now();
  const run = async (step: Step, index: number) => {
    const due = started + (index * 1000) / options.ratePerSecond;
    if (due > Date.now()) await sleep(due - Date.now());
    if (step.kind === 'schema-invalid-event') {
      await options.injectBadEvent(step.customerId);
    } else {
      const { outcome, retries } = await send(options, step.command);
      counts.retriedSends += retries;
      if (outcome === 'rejected') counts.rejected += 1;
      else counts.applied += 1;
      if (outcome === 'duplicate') counts.duplicatesAbsorbed += 1;
    }
    options.onStepDone();
  };
  options.plan.steps.forEach((step, index) => {
    const customer = customerOf(step);
    const previous = lastOfCustomer.get(customer) ?? Promise.resolve();
    lastOfCustomer.set(
      customer,
      previous.then(() => slots.run(() => run(step, index))),
    );
  });
  await Promise.all(lastOfCustomer.values());
  return counts;
}

async function send(
  options: WorkloadOptions,
  command: object,
): Promise<{ outcome: CommandOutcome; retries: number }> {
  for (let retries = 0; ; retries += 1) {
    if (Date.now() > options.deadline) {
      throw new Error(
        `Customer Profile did not answer a command before the deadline: ${JSON.stringify(command)}`,
      );
    }
    try {
      const port = readFileSync(options.portFile, 'utf8');
      const response = await fetch(`http://127.0.0.1:${port}/commands`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(command),
        signal: AbortSignal.timeout(5_000),
      });
      if (response.status === 200) {
        const { outcome } = (await response.json()) as { outcome: CommandOutcome };
        return { outcome, retries };
      }
      if (response.status < 500)
        throw new Error(`Customer Profile refused ${JSON.stringify(command)}: ${await response.text()}`);
    } catch (error) {
      if (error instanceof Error && error.message.startsWith('Customer Profile refused')) throw error;
      // Killed, restarting, or answering slowly: the same requestId is sent again.
    }
    await sleep(50);
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** At most `limit` tasks at once, in the order they asked. */
class Slots {
  readonly #limit: number;
  #busy = 0;
  readonly #waiting: (() => void)[] = [];

  constructor(limit: number) {
    this.#limit = limit;
  }

  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.#busy >= this.#limit) await new Promise<void>((resolve) => this.#waiting.push(resolve));
    else this.#busy += 1;
    try {
      return await task();
    } finally {
      const next = this.#waiting.shift();
      if (next === undefined) this.#busy -= 1;
      else next();
    }
  }
}
