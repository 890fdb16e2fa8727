/**
 * Plays the clients of the orchestrating service: asks its instances to start the planned sagas
 * over HTTP, spread over time, each request to the next instance in turn; a request that gets no
 * answer (the instance was killed) is sent again, to the other instance, with the same
 * `requestId`, so a saga is never lost and never started twice.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { START_ROUTE } from './orchestrator-process.js';
import type { SagaPlan, UnsubscribeRequest } from './saga-plan.js';

export interface SagaWorkloadOptions {
  readonly plan: SagaPlan;
  readonly portsDir: string;
  /** The orchestrator instances' names (their port files). */
  readonly instances: readonly string[];
  /** Most starts per second: traffic, so that the faults land while sagas run. */
  readonly ratePerSecond: number;
  readonly deadline: number;
  readonly onStarted: () => void;
}

export interface SagaWorkloadResult {
  /** Starts sent again after a lost answer or a refused connection. */
  readonly retriedStarts: number;
  /** Starts that came back `created: false` (a retry whose first send had started the saga). */
  readonly duplicateStartsAbsorbed: number;
}

export async function runSagaWorkload(options: SagaWorkloadOptions): Promise<SagaWorkloadResult> {
  const counts = { retriedStarts: 0, duplicateStartsAbsorbed: 0 };
  const started = Date.now();
  await Promise.all(
    options.plan.requests.map(async (request, index) => {
      const due = started + (index * 1000) / options.ratePerSecond;
      if (due > Date.now()) await sleep(due - Date.now());
      const { created, retries } = await send(options, request, index);
      counts.retriedStarts += retries;
      if (!created) counts.duplicateStartsAbsorbed += 1;
      options.onStarted();
    }),
  );
  return counts;
}

async function send(
  options: SagaWorkloadOptions,
  request: UnsubscribeRequest,
  index: number,
): Promise<{ created: boolean; retries: number }> {
  for (let retries = 0; ; retries += 1) {
    if (Date.now() > options.deadline) {
      throw new Error(`No orchestrator instance started saga ${request.requestId} before the deadline.`);
    }
    const instance = options.instances[(index + retries) % options.instances.length]!;
    try {
      const port = readFileSync(join(options.portsDir, `${instance}.port`), 'utf8');
      const response = await fetch(`http://127.0.0.1:${port}${START_ROUTE}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ requestId: request.requestId, customerId: request.customerId }),
        signal: AbortSignal.timeout(5_000),
      });
      if (response.status === 202) {
        const { created } = (await response.json()) as { created: boolean };
        return { created, retries };
      }
      if (response.status < 500) {
        throw new RefusedStart(`${instance} refused ${request.requestId}: ${await response.text()}`);
      }
    } catch (error) {
      if (error instanceof RefusedStart) throw error;
      // Killed, restarting, or answering slowly: the same requestId goes to the next instance.
    }
    await sleep(50);
  }
}

class RefusedStart extends Error {}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
