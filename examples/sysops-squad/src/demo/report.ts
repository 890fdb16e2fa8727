/**
 * The demo's report: `--json` prints it as one JSON document (the acceptance checks read it);
 * otherwise `renderReport` prints it for people. `schemaVersion` changes when a field changes
 * meaning or goes away; new fields may appear in any version.
 *
 * Both patterns report in this one shape. The orchestrated pattern adds `sagas` (counts by status)
 * and `faultsInjected.participantRefusals`; the fields about messages and dead letters do not
 * apply to it and are 0 or empty there (see `orchestrated/saga-report.ts` for what each field
 * means in that pattern).
 */
import type { SagaStatus } from '@converge/core';
import { renderSagaReport } from '../orchestrated/saga-report.js';
import { listCounts, mark } from './report-format.js';

export const REPORT_SCHEMA_VERSION = 1;

export interface DemoReport {
  readonly schemaVersion: typeof REPORT_SCHEMA_VERSION;
  /** `event`: choreographed through events and the outbox; `orchestrated`: sagas calling participants over HTTP. */
  readonly pattern: 'event' | 'orchestrated';
  /** Where the services kept their data: SQLite files (the default) or PostgreSQL databases. */
  readonly databases: 'sqlite' | 'postgres';
  readonly seed: number;
  readonly dir: string;
  readonly transactions: number;
  readonly customers: number;
  /** Messages the services committed to their outboxes (events and audit records). */
  readonly produced: number;
  /** Log entries the consumers read (a message published twice, after a relay was killed, counts twice). */
  readonly delivered: number;
  /** Messages a relay published again (killed after publishing, before marking): absorbed by the inboxes. */
  readonly duplicateDeliveries: number;
  /** Effects applied twice (must be 0). */
  readonly duplicateEffects: number;
  /** Committed messages neither applied nor waiting for a decision (must be 0). */
  readonly lost: number;
  /** Effects applied after a later message of the same key (must be 0). */
  readonly orderViolations: number;
  /** Rows that differ from the expected end state, per service (all must be 0). */
  readonly stateMismatches: Readonly<Record<string, number>>;
  /** Open dead letters by reason code: the permanently bad messages, and nothing else. */
  readonly deadLetters: Readonly<Record<string, number>>;
  /** The open dead letters that were not expected, or expected and missing (must be empty). */
  readonly unexpectedDeadLetters: readonly string[];
  /** What needs a person's decision by design: the permanent dead letters and what waits behind them. */
  readonly awaitingDecision: {
    readonly deadLetters: number;
    readonly blockedKeys: number;
    readonly waitingMessages: number;
  };
  /** Transient dead letters (retries exhausted while the gateway was down) replayed by the consumers themselves. */
  readonly automaticRedrives: number;
  /** Interventions that recovering from the transient faults needed (must be 0). */
  readonly manualActions: number;
  readonly faultsInjected: {
    /** SIGKILLs at random moments, by service. */
    readonly kills: Readonly<Record<string, number>>;
    /** SIGKILLs at a dangerous seam (a service killing itself there, as planned), by fault point. */
    readonly seamKills: Readonly<Record<string, number>>;
    readonly dependencyOutages: number;
    readonly badMessages: number;
    /** Orchestrated: the sagas a participant was set up to refuse for good (the unpriced plans). */
    readonly participantRefusals?: number;
    readonly total: number;
  };
  /** From each business commit until every service applied it (and Audit recorded it), in ms. */
  readonly timeToConsistencyMs: {
    readonly p50: number;
    readonly p99: number;
    readonly afterLastFault: number;
  };
  /** Command sends retried because Customer Profile was killed; a retry never applied twice. */
  readonly retriedCommands: number;
  /** Services that exited when nobody killed them (must be empty). */
  readonly unexpectedExits: readonly string[];
  /** Orchestrated only: sagas by status; consistent only when all are `completed` or `compensated`. */
  readonly sagas?: Readonly<Record<SagaStatus, number>>;
  /** Orchestrated only: the first problems the check found, in words (empty when consistent). */
  readonly problems?: readonly string[];
  readonly consistent: boolean;
  readonly seconds: number;
}

export function renderReport(report: DemoReport): string {
  if (report.pattern === 'orchestrated') return renderSagaReport(report);
  const faults = report.faultsInjected;
  const kills = listCounts(faults.kills);
  const seams = listCounts(faults.seamKills);
  const reasons = listCounts(report.deadLetters);
  const ttc = report.timeToConsistencyMs;
  return [
    `Converge demo — customer unsubscribes, event-based, on ${report.databases === 'sqlite' ? 'SQLite files' : 'PostgreSQL'} (seed ${report.seed})`,
    '',
    `  transactions          ${report.transactions} over ${report.customers} customers`,
    `  messages produced     ${report.produced}; delivered ${report.delivered} (${report.duplicateDeliveries} published twice, absorbed)`,
    `  faults injected       ${faults.total}: SIGKILL ${kills || 'none'}${seams === '' ? '' : `; at seams ${seams}`}; ${faults.dependencyOutages} payment-gateway outage; ${faults.badMessages} bad messages`,
    `  lost                  ${report.lost}  ${mark(report.lost === 0)}`,
    `  duplicate effects     ${report.duplicateEffects}  ${mark(report.duplicateEffects === 0)}`,
    `  order violations      ${report.orderViolations}  ${mark(report.orderViolations === 0)}`,
    `  end state             ${Object.values(report.stateMismatches).every((n) => n === 0) ? 'every database as expected  ok' : `mismatches ${JSON.stringify(report.stateMismatches)}  FAILED`}`,
    `  dead letters          ${reasons || 'none'}  ${mark(report.unexpectedDeadLetters.length === 0)}`,
    `  awaiting decision     ${report.awaitingDecision.deadLetters} dead letters, ${report.awaitingDecision.blockedKeys} keys blocked, ${report.awaitingDecision.waitingMessages} messages waiting behind them`,
    `  automatic redrives    ${report.automaticRedrives}`,
    `  manual actions        ${report.manualActions}  ${mark(report.manualActions === 0)}`,
    `  time to consistency   p50 ${ttc.p50} ms, p99 ${ttc.p99} ms; ${ttc.afterLastFault} ms after the last fault`,
    '',
    report.consistent
      ? `Consistent: every service agrees, nothing lost or applied twice, and nobody re-published a message by hand (${report.seconds} s).`
      : `NOT consistent (${report.seconds} s): see the lines marked FAILED; the databases are in ${report.dir}.`,
    ...report.unexpectedDeadLetters.map((line) => `  unexpected dead letter: ${line}`),
    ...report.unexpectedExits.map((line) => `  unexpected exit: ${line}`),
  ].join('\n');
}
