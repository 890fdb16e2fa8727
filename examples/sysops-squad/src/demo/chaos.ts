/**
 * The faults the demo injects while the business transactions run, chosen by the seeded random
 * source: SIGKILLs of random services (each restarted after a short pause, every other one set
 * to kill itself again at a dangerous seam: after its relay published before it marked, or
 * after its consumer committed before it acknowledged), one outage of Billing
 * Payment's payment gateway, and one message in the broker that is not even JSON. (The two other
 * permanently bad messages travel with the plan: see `plan.ts`.) Bounded in count and in time.
 */
import { FaultPoint, type Transport } from '@converge/core';
import type { ServiceName } from '../services/start-service.js';
import { GatewayOutage } from './gateway-outage.js';
import type { Random } from './random.js';
import type { Supervisor } from './supervisor.js';

export interface ChaosOptions {
  readonly random: Random;
  readonly supervisor: Supervisor;
  readonly broker: Transport;
  readonly gatewayDownFile: string;
  readonly maxKills: number;
  readonly outageMs: number;
  /** Fraction of the business transactions done so far. */
  readonly progress: () => number;
  readonly workloadDone: () => boolean;
}

export interface ChaosResult {
  readonly kills: Record<string, number>;
  readonly dependencyOutages: number;
  readonly malformedInjected: number;
  /** When the last fault ended (a killed service ready again, the gateway back up). */
  readonly lastFaultEndedAt: number;
}

const RELAY_SEAM = FaultPoint.AFTER_PUBLISH_BEFORE_MARK;
const CONSUMER_SEAM = FaultPoint.AFTER_HANDLER_COMMIT_BEFORE_ACK;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export async function runChaos(options: ChaosOptions): Promise<ChaosResult> {
  const { random, supervisor } = options;
  const kills: Record<string, number> = {};
  let killCount = 0;
  const outage = new GatewayOutage(options.gatewayDownFile, options.outageMs);
  let malformedInjected = 0;
  const startedAt = Date.now();
  const hardStop = Date.now() + 10 * 60_000;
  while (Date.now() < hardStop && (!options.workloadDone() || !outage.over || malformedInjected === 0)) {
    await sleep(random.int(300, 900));
    // With few transactions the workload may end first: the outage and the bad message still come.
    const progress = options.workloadDone() ? 1 : options.progress();
    if (killCount < options.maxKills && !options.workloadDone()) {
      const candidates = supervisor.killable(500);
      if (candidates.length > 0) {
        const name: ServiceName = random.pick(candidates);
        // Every other kill also plans the next incarnation's death at a dangerous seam.
        const seams = name === 'customer-profile' ? [RELAY_SEAM] : [RELAY_SEAM, CONSUMER_SEAM];
        const crashAt = random.next() < 0.5 ? `${random.pick(seams)}:${random.int(1, 4)}` : undefined;
        supervisor.kill(name, random.int(100, 400), crashAt);
        kills[name] = (kills[name] ?? 0) + 1;
        killCount += 1;
      }
    }
    outage.tick(progress);
    if (malformedInjected === 0 && progress >= 0.4) {
      await options.broker.publish([
        {
          messageId: `not-json-${random.int(0, 1e9)}`,
          source: 'customer-profile',
          type: 'customer.unsubscribed',
          key: 'customer-unknown',
          body: '{"specversion":"1.0","id":',
        },
      ]);
      malformedInjected = 1;
    }
  }
  outage.end();
  return {
    kills,
    dependencyOutages: outage.count,
    malformedInjected,
    lastFaultEndedAt: Math.max(startedAt, outage.endedAt, supervisor.lastRecoveredAt),
  };
}
