/**
 * The seeded plan of the randomised saga test: what each participant does for each saga (fail
 * with 503 for a while, refuse with 422, answer too late, fail its compensation for a while or for
 * good) and when which orchestrator instance is killed. Everything random comes from one seed
 * (`CONVERGE_SAGA_RANDOM_SEED` repeats a run), so a failing run can be replayed; only the
 * interleaving of the real processes is left to the machine.
 */
export { seededRandom } from '../../packages/core/src/saga/saga-fixture.js';

/** The seed of this run: `CONVERGE_SAGA_RANDOM_SEED`, or a new one. */
export function runSeed(): number {
  const given = process.env.CONVERGE_SAGA_RANDOM_SEED;
  if (given !== undefined && given !== '') {
    const seed = Number(given);
    if (!Number.isInteger(seed) || seed < 0)
      throw new Error(`CONVERGE_SAGA_RANDOM_SEED is '${given}'; give a non-negative integer.`);
    return seed;
  }
  return Math.floor(Math.random() * 2 ** 31);
}

/**
 * What a participant does with one saga's step. Apply attempts (counted as they arrive): the first
 * `fail` answer 503; the next `slow` attempts are held `slowMs` (past the step's timeout) and then
 * either apply late (`late: 'apply'`) or apply at once and answer late (`late: 'answer'`); then
 * the step is refused with 422 when `refuse`, applied otherwise. Compensation attempts: the first
 * `undoFail` answer 503; then 422 for good when `undoRefuse`, undone otherwise.
 */
export interface StepScript {
  readonly fail?: number;
  readonly slow?: number;
  readonly slowMs?: number;
  readonly late?: 'apply' | 'answer';
  readonly refuse?: true;
  readonly undoFail?: number;
  readonly undoRefuse?: true;
}

export const STEPS = ['profile', 'contract', 'billing'] as const;
export type StepName = (typeof STEPS)[number];

/** The input of every saga of the test. */
export interface RandomSagaInput {
  readonly n: number;
  readonly script: Partial<Record<StepName, StepScript>>;
}

/** Timings every instance and participant shares; short, so that many sagas fit in a CI run. */
export interface RandomTimings {
  readonly stepTimeoutMs: number;
  /** Attempts of a step and of a compensation (the same for both). */
  readonly maxAttempts: number;
  readonly leaseMs: number;
}

export const TIMINGS: RandomTimings = Object.freeze({ stepTimeoutMs: 500, maxAttempts: 3, leaseMs: 1_500 });

/** One step's script, drawn with `random` (most steps just apply). */
export function drawStepScript(random: () => number, timings: RandomTimings): StepScript {
  const script: { -readonly [K in keyof StepScript]: StepScript[K] } = {};
  const roll = random();
  if (roll < 0.12) script.fail = 1 + Math.floor(random() * (timings.maxAttempts - 1));
  else if (roll < 0.14)
    script.fail = timings.maxAttempts; // fails for good after retryable errors
  else if (roll < 0.2) {
    script.slow = random() < 0.8 ? 1 : timings.maxAttempts; // all attempts slow: fails for good, outcome unknown
    // Sometimes slower than all attempts together: the late effect arrives after the compensation.
    const outlives = script.slow === timings.maxAttempts && random() < 0.5;
    script.slowMs =
      (outlives ? 2 * timings.maxAttempts * timings.stepTimeoutMs : timings.stepTimeoutMs + 50) +
      Math.floor(random() * 200);
    script.late = random() < 0.5 ? 'apply' : 'answer';
  }
  if (random() < 0.07) script.refuse = true;
  const undo = random();
  if (undo < 0.15) script.undoFail = 1 + Math.floor(random() * (timings.maxAttempts - 1));
  else if (undo < 0.2)
    script.undoFail = timings.maxAttempts; // the compensation fails for good
  else if (undo < 0.23) script.undoRefuse = true;
  return script;
}

/**
 * The first sagas' scripts, not drawn: one that completes, one that is compensated (billing
 * refuses), and one that must end needing attention whatever the machine's timing (billing
 * refuses, and the profile's compensation is refused for good).
 */
export const ANCHORS: readonly Partial<Record<StepName, StepScript>>[] = [
  {},
  { billing: { refuse: true } },
  { billing: { refuse: true }, profile: { undoRefuse: true } },
];

/** The input of saga `n`: a script for each step that does more than apply (`ANCHORS` first). */
export function drawSagaInput(random: () => number, n: number, timings: RandomTimings): RandomSagaInput {
  const anchor = ANCHORS[n];
  if (anchor !== undefined) return { n, script: anchor };
  const script: Partial<Record<StepName, StepScript>> = {};
  for (const step of STEPS) {
    const drawn = drawStepScript(random, timings);
    if (Object.keys(drawn).length > 0) script[step] = drawn;
  }
  return { n, script };
}

/** One planned SIGKILL: after `afterMs` more, kill instance `instance`, restart it `restartAfterMs` later. */
export interface PlannedKill {
  readonly afterMs: number;
  readonly instance: 0 | 1;
  readonly restartAfterMs: number;
}

/** `count` kills, each 400–1,600 ms after the previous one's restart. */
export function drawKills(random: () => number, count: number): PlannedKill[] {
  return Array.from({ length: count }, () => ({
    afterMs: 400 + Math.floor(random() * 1_200),
    instance: random() < 0.5 ? 0 : 1,
    restartAfterMs: 20 + Math.floor(random() * 300),
  }));
}
