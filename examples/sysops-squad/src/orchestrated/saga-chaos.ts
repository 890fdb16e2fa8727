/**
 * The faults of the orchestrated demo, chosen by the seeded random source while the sagas run:
 * SIGKILLs of random processes — the orchestrator instances and the participants — each restarted
 * after a short pause, every other one set to kill itself again at a dangerous seam (an
 * orchestrator after recording a step as started but before calling it, after the call before
 * recording its result, or in the middle of compensating; a participant after committing its
 * effect but before answering), and one outage of Billing Payment's payment gateway, during which
 * Billing answers 503. The first kill is always an orchestrator instance. Bounded in count and in
 * time. (The permanent failure — the unpriced plans Billing refuses — travels with the plan.)
 */
import { FaultPoint } from '@converge/core';
import { GatewayOutage } from '../demo/gateway-outage.js';
import type { Random } from '../demo/random.js';
import type { Supervisor } from '../demo/supervisor.js';

export interface SagaChaosOptions<Name extends string> {
  readonly random: Random;
  readonly supervisor: Supervisor<Name>;
  readonly isOrchestrator: (name: Name) => boolean;
  readonly gatewayDownFile: string;
  readonly maxKills: number;
  readonly outageMs: number;
  /** Fraction of the sagas started so far. */
  readonly progress: () => number;
  readonly workloadDone: () => boolean;
}

export interface SagaChaosResult {
  readonly kills: Record<string, number>;
  readonly dependencyOutages: number;
  /** When the last fault ended (a killed process ready again, the gateway back up). */
  readonly lastFaultEndedAt: number;
}

const ORCHESTRATOR_SEAMS = [
  FaultPoint.SAGA_AFTER_STEP_STARTED,
  FaultPoint.SAGA_AFTER_CALL_BEFORE_RESULT,
  FaultPoint.SAGA_MID_COMPENSATION,
] as const;
const PARTICIPANT_SEAMS = [FaultPoint.AFTER_PARTICIPANT_COMMIT_BEFORE_RESPONSE] as const;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export async function runSagaChaos<Name extends string>(
  options: SagaChaosOptions<Name>,
): Promise<SagaChaosResult> {
  const { random, supervisor } = options;
  const kills: Record<string, number> = {};
  let killCount = 0;
  const outage = new GatewayOutage(options.gatewayDownFile, options.outageMs);
  const startedAt = Date.now();
  const hardStop = Date.now() + 10 * 60_000;
  while (Date.now() < hardStop && (!options.workloadDone() || !outage.over)) {
    await sleep(random.int(300, 900));
    const progress = options.workloadDone() ? 1 : options.progress();
    if (killCount < options.maxKills && !options.workloadDone()) {
      const ready = supervisor.killable(500);
      // The first kill takes an orchestrator instance down: the takeover is the point of the demo.
      const candidates = killCount === 0 ? ready.filter(options.isOrchestrator) : ready;
      if (candidates.length > 0) {
        const name = random.pick(candidates);
        const seams = options.isOrchestrator(name) ? ORCHESTRATOR_SEAMS : PARTICIPANT_SEAMS;
        const crashAt = random.next() < 0.5 ? `${random.pick(seams)}:${random.int(1, 4)}` : undefined;
        supervisor.kill(name, random.int(100, 400), crashAt);
        kills[name] = (kills[name] ?? 0) + 1;
        killCount += 1;
      }
    }
    outage.tick(progress);
  }
  outage.end();
  return {
    kills,
    dependencyOutages: outage.count,
    lastFaultEndedAt: Math.max(startedAt, outage.endedAt, supervisor.lastRecoveredAt),
  };
}
