/**
 * The orchestrated demo's report for people. In the JSON (`DemoReport`, shared with the event
 * demo) the fields mean, for this pattern:
 *
 * - `transactions`, `customers`: sagas planned, one customer each;
 * - `lost`: planned sagas the orchestrator's database does not hold;
 * - `duplicateEffects`: participant effects recorded more than once for one idempotency key;
 * - `orderViolations`: compensated sagas that undid out of reverse order, or undid a step never started;
 * - `stateMismatches`: per participant, customers whose state contradicts their saga's end; per
 *   `orchestrator`, sagas never planned or completed despite the unpriced plan;
 * - `manualActions`: operators' actions in the sagas' transition logs;
 * - `faultsInjected`: SIGKILLs by process (orchestrator instances and participants), at seams by
 *   fault point, the payment-gateway outage, and `participantRefusals` (the unpriced plans);
 * - `timeToConsistencyMs`: from each saga's start to its end; after the last fault, until every
 *   saga had ended;
 * - `retriedCommands`: saga starts sent again because an orchestrator instance did not answer;
 * - `sagas`: counts by status.
 *
 * The message fields (`produced`, `delivered`, `duplicateDeliveries`, `automaticRedrives`,
 * `awaitingDecision`, `deadLetters`, `badMessages`) do not apply and are 0 or empty.
 */
import type { DemoReport } from '../demo/report.js';
import { listCounts, mark } from '../demo/report-format.js';

export function renderSagaReport(report: DemoReport): string {
  const faults = report.faultsInjected;
  const kills = listCounts(faults.kills);
  const seams = listCounts(faults.seamKills);
  const ttc = report.timeToConsistencyMs;
  const sagas: Readonly<Record<string, number>> = report.sagas ?? {};
  const unfinished = Object.entries(sagas)
    .filter(([status, n]) => status !== 'completed' && status !== 'compensated' && n > 0)
    .map(([status, n]) => `${status} ${n}`);
  return [
    `Converge demo — customer unsubscribes, orchestrated, on ${report.databases === 'sqlite' ? 'SQLite files' : 'PostgreSQL'} (seed ${report.seed})`,
    '',
    `  sagas                 ${report.transactions} planned: ${sagas.completed ?? 0} completed, ${sagas.compensated ?? 0} compensated${unfinished.length === 0 ? '' : `, ${unfinished.join(', ')}`}  ${mark(unfinished.length === 0)}`,
    `  faults injected       ${faults.total}: SIGKILL ${kills || 'none'}${seams === '' ? '' : `; at seams ${seams}`}; ${faults.dependencyOutages} payment-gateway outage; ${faults.participantRefusals ?? 0} unpriced plans`,
    `  lost                  ${report.lost}  ${mark(report.lost === 0)}`,
    `  duplicate effects     ${report.duplicateEffects}  ${mark(report.duplicateEffects === 0)}`,
    `  undo order            ${report.orderViolations} violations  ${mark(report.orderViolations === 0)}`,
    `  end state             ${Object.values(report.stateMismatches).every((n) => n === 0) ? 'every participant agrees with its saga  ok' : `mismatches ${JSON.stringify(report.stateMismatches)}  FAILED`}`,
    `  manual actions        ${report.manualActions}  ${mark(report.manualActions === 0)}`,
    `  retried starts        ${report.retriedCommands}`,
    `  time to consistency   p50 ${ttc.p50} ms, p99 ${ttc.p99} ms; ${ttc.afterLastFault} ms after the last fault`,
    '',
    report.consistent
      ? `Consistent: every saga completed or compensated, each effect applied once, nothing left half done (${report.seconds} s).`
      : `NOT consistent (${report.seconds} s): see the lines marked FAILED; the databases are in ${report.dir}.`,
    ...(report.problems ?? []).map((line) => `  problem: ${line}`),
    ...report.unexpectedExits.map((line) => `  unexpected exit: ${line}`),
  ].join('\n');
}
