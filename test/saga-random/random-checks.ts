/**
 * What the randomised saga test checks of every saga once all have settled, from the
 * orchestrator's records and transition logs and the participants' own effect tables. Each check
 * returns the problems it found (empty: none), so one failing saga among a thousand is named with
 * its id, status and effects rather than drowned in a thousand assertions.
 */
import type { SagaRecord, SagaSnapshot, SagaTransition } from '../../packages/core/src/index.js';
import type { EffectRow } from './random-participant.js';
import { STEPS } from './random-plan.js';

/** The log entries that record how an attempt of a step's action ended. */
const STEP_RESULTS: ReadonlySet<string> = new Set(['step-succeeded', 'step-failed', 'step-timed-out']);

/** Each (saga, step) applied at most once and compensated at most once, under the right keys. */
export function duplicateEffects(effects: readonly EffectRow[]): string[] {
  const seen = new Set<string>();
  const problems: string[] = [];
  for (const e of effects) {
    const undo = e.kind !== 'apply';
    const id = `${e.sagaId}:${e.step}${undo ? ':compensate' : ''}`;
    if (seen.has(id)) problems.push(`duplicate ${undo ? 'compensation' : 'effect'} ${id} (${e.kind})`);
    seen.add(id);
    if (e.key !== id) problems.push(`${e.kind} of ${e.sagaId}:${e.step} was applied under key '${e.key}'`);
  }
  return problems;
}

/** The transition log: seq 1, 2, 3 … without a gap, fencing tokens never decreasing. */
export function logProblems(record: SagaRecord, log: readonly SagaTransition[]): string[] {
  const problems: string[] = [];
  log.forEach((t, i) => {
    if (t.seq !== i + 1) problems.push(`saga ${record.id}: transition ${i + 1} has seq ${t.seq}`);
    const before = log[i - 1];
    if (before !== undefined && t.fencingToken < before.fencingToken)
      problems.push(
        `saga ${record.id}: fencing token went back from ${before.fencingToken} to ${t.fencingToken} at seq ${t.seq}`,
      );
  });
  if (log.length !== record.transitions)
    problems.push(
      `saga ${record.id}: ${log.length} transitions logged, the record says ${record.transitions}`,
    );
  return problems;
}

/**
 * One saga's end state against its participants' effects (`mine`, in commit order): completed →
 * every step applied, nothing undone; compensated → nothing in force, the compensations exactly the
 * undone steps, in reverse order, after the last effect, and never for a step whose last attempt
 * was refused for good or that was never tried (from the log); needs-attention → a reason naming the step and its error, compensations in reverse
 * order for what the saga says it undid (plus, at most, the failed one, if it applied late).
 */
export function sagaProblems(
  record: SagaRecord,
  log: readonly SagaTransition[],
  mine: readonly EffectRow[],
): string[] {
  const snapshot = record.snapshot as SagaSnapshot;
  const applied = mine.filter((e) => e.kind === 'apply').map((e) => e.step);
  const compensations = mine.filter((e) => e.kind !== 'apply');
  const undoneSteps = compensations.map((e) => e.step);
  const inForce = applied.filter((step) => !mine.some((e) => e.kind === 'undo' && e.step === step));
  const what = `saga ${record.id} (${record.status}; effects: ${mine.map((e) => `${e.kind} ${e.step}`).join(', ') || 'none'})`;
  const problems: string[] = [];
  const expect = (ok: boolean, problem: string) => {
    if (!ok) problems.push(`${what}: ${problem}`);
  };
  const order = (steps: readonly string[]) => steps.map((s) => STEPS.indexOf(s as never));
  const reversed = order(undoneSteps).every((i, k, all) => k === 0 || i < all[k - 1]!);
  const lastApply = Math.max(-1, ...mine.filter((e) => e.kind === 'apply').map((e) => e.n));
  const undoneAfterEffects = compensations.every((e) => e.n > lastApply);
  switch (record.status) {
    case 'completed':
      expect(applied.join() === STEPS.join(), 'not every step applied, in order');
      expect(compensations.length === 0, 'something was compensated');
      break;
    case 'compensated': {
      expect(inForce.length === 0, `still in force: ${inForce.join(', ')}`);
      expect(
        undoneSteps.join() === snapshot.undone.join(),
        `the saga says it undid ${snapshot.undone.join()}`,
      );
      expect(reversed, 'compensations not in reverse order');
      expect(undoneAfterEffects, 'an effect was applied after undoing began');
      for (const step of undoneSteps) {
        const last = log.findLast((t) => t.step === step && STEP_RESULTS.has(t.kind));
        const refused =
          last?.kind === 'step-failed' && (last.detail as { retryable?: boolean }).retryable === false;
        expect(
          last !== undefined && !refused,
          `step ${step} was ${refused ? 'refused for good' : 'never tried'}, yet compensated`,
        );
      }
      const failed = snapshot.failure?.step;
      const later = failed === undefined ? [] : STEPS.slice(STEPS.indexOf(failed as never) + 1);
      expect(
        !mine.some((e) => later.includes(e.step as never)),
        `a step after the failed '${failed}' has effects`,
      );
      break;
    }
    case 'needs-attention': {
      const stuck = Object.entries(snapshot.steps).find(([, s]) => s.status === 'compensation-failed');
      expect(stuck !== undefined, 'no step is compensation-failed');
      if (stuck === undefined) break;
      const [step, state] = stuck;
      const reason = record.reason ?? '';
      expect(reason.includes(`step '${step}'`), `the reason does not name step '${step}': ${reason}`);
      expect(
        state.lastError !== null && reason.includes(state.lastError.message),
        `the reason does not name the error: ${reason}`,
      );
      expect(reversed, 'compensations not in reverse order');
      expect(undoneAfterEffects, 'an effect was applied after undoing began');
      const extra = undoneSteps.filter((s) => !snapshot.undone.includes(s));
      expect(
        snapshot.undone.every((s) => undoneSteps.includes(s)) && extra.every((s) => s === step),
        `compensations ${undoneSteps.join()} do not match what the saga says it undid: ${snapshot.undone.join()}`,
      );
      break;
    }
    default:
      problems.push(`${what}: not settled (reason: ${record.reason})`);
  }
  return problems;
}
