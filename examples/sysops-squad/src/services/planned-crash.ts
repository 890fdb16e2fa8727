/**
 * A planned crash at one of Converge's dangerous seams, for the demo: with
 * `SYSOPS_CRASH_AT=<fault point>:<n>` the service kills itself with SIGKILL the n-th time its
 * relay or consumer reaches that point (after publishing before marking; after the handler's
 * commit before the acknowledgement), saying so on stdout first so the supervisor can tell it
 * from a crash of its own. Without the variable nothing happens.
 */
import { writeSync } from 'node:fs';
import { type FaultInjector, FaultPoint, noFaults } from '@converge/core';

const POINTS: readonly string[] = Object.values(FaultPoint);

export function plannedCrash(plan: string | undefined): FaultInjector {
  if (plan === undefined || plan === '') return noFaults;
  const [point, nth] = plan.split(':');
  const times = Number(nth);
  if (point === undefined || !POINTS.includes(point) || !Number.isSafeInteger(times) || times < 1) {
    throw new Error(`SYSOPS_CRASH_AT must be '<${POINTS.join('|')}>:<n>' (got '${plan}')`);
  }
  let reached = 0;
  return {
    reach(at) {
      if (at !== point) return;
      reached += 1;
      if (reached < times) return;
      writeSync(1, `crash ${point}\n`);
      process.kill(process.pid, 'SIGKILL');
    },
  };
}
