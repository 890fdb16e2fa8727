/**
 * What `converge outbox status` finds in an owner's database: the backlog, the age of the oldest
 * unpublished message, one row per relay (from its heartbeat), and the problems among them. Pure:
 * the command reads the figures, this judges and formats them.
 */
import {
  type OutboxStatus,
  RELAY_SILENT_AFTER_INTERVALS,
  type RelayList,
  type RelayState,
  relayState,
} from '@converge/core';
import { table } from './dlq-format.js';

/** One relay as the command reports it. Ages are measured against the database's clock. */
export interface RelayReport {
  readonly relayId: string;
  readonly state: RelayState;
  readonly host: string | null;
  readonly pid: number | null;
  readonly startedAt: string;
  readonly heartbeatAt: string;
  readonly heartbeatAgeMs: number;
  readonly heartbeatIntervalMs: number;
  readonly stoppedAt: string | null;
  /** Messages published since `startedAt`. */
  readonly published: number;
  readonly lastPublishedAt: string | null;
  readonly lastPublishedAgeMs: number | null;
  readonly consecutiveFailures: number;
  readonly lastError: string | null;
  readonly lastErrorAt: string | null;
  /** Whether it holds the outbox lease; null where relays share the outbox (PostgreSQL). */
  readonly holdsLease: boolean | null;
}

/** A reason `converge outbox status` exits 3, with a stable code for scripts. */
export interface OutboxProblem {
  readonly code: 'OLDEST_TOO_OLD' | 'NO_RELAY_RUNNING' | 'RELAY_FAILING';
  readonly message: string;
}

/** Everything `converge outbox status --json` prints. */
export interface OutboxReport extends OutboxStatus {
  readonly oldestUnpublishedAgeMs: number;
  readonly maxAgeMs: number;
  /** The oldest unpublished message has waited longer than `maxAgeMs`. */
  readonly behind: boolean;
  readonly maxFailures: number;
  /** Whether relays share the outbox (true) or one at a time holds its lease (false). */
  readonly sharedOutbox: boolean;
  readonly leaseHolder: string | null;
  readonly relays: readonly RelayReport[];
  readonly problems: readonly OutboxProblem[];
}

/** The command's limits (`--max-age`, `--max-failures`) and what the backend is like. */
export interface OutboxReportLimits {
  readonly maxAge: string;
  readonly maxAgeMs: number;
  readonly maxFailures: number;
  readonly sharedOutbox: boolean;
  /** This process's clock, for the age of the oldest message (as before relays reported in). */
  readonly now: number;
}

const iso = (date: Date | null) => (date === null ? null : date.toISOString());

/** Judges the figures: see `converge outbox status --help` and ADR 0017 for the rules. */
export function outboxReport(
  status: OutboxStatus,
  list: RelayList,
  limits: OutboxReportLimits,
): OutboxReport {
  const observedAt = list.observedAt.getTime();
  const relays = list.relays.map(
    (relay): RelayReport => ({
      relayId: relay.relayId,
      state: relayState(relay, list.observedAt),
      host: relay.host,
      pid: relay.pid,
      startedAt: relay.startedAt.toISOString(),
      heartbeatAt: relay.heartbeatAt.toISOString(),
      heartbeatAgeMs: Math.max(0, observedAt - relay.heartbeatAt.getTime()),
      heartbeatIntervalMs: relay.heartbeatIntervalMs,
      stoppedAt: iso(relay.stoppedAt),
      published: relay.published,
      lastPublishedAt: iso(relay.lastPublishedAt),
      lastPublishedAgeMs:
        relay.lastPublishedAt === null ? null : Math.max(0, observedAt - relay.lastPublishedAt.getTime()),
      consecutiveFailures: relay.consecutiveFailures,
      lastError: relay.lastError,
      lastErrorAt: iso(relay.lastErrorAt),
      holdsLease: limits.sharedOutbox ? null : relay.relayId === list.leaseHolder,
    }),
  );
  const ageMs = status.oldestUnpublishedAt === null ? 0 : limits.now - status.oldestUnpublishedAt.getTime();
  const behind = ageMs > limits.maxAgeMs;
  const running = relays.filter((relay) => relay.state === 'running');
  const problems: OutboxProblem[] = [];
  if (behind) {
    problems.push({
      code: 'OLDEST_TOO_OLD',
      message: `the oldest unpublished message has waited longer than ${limits.maxAge}; is a relay running, and can it reach the transport?`,
    });
  }
  if (status.backlog > 0 && running.length === 0) {
    problems.push({
      code: 'NO_RELAY_RUNNING',
      message: `${status.backlog} message(s) wait and no relay is running (none reported a heartbeat within ${RELAY_SILENT_AFTER_INTERVALS} intervals); start one, or find out why it stopped`,
    });
  }
  for (const relay of running.filter((r) => r.consecutiveFailures >= limits.maxFailures)) {
    problems.push({
      code: 'RELAY_FAILING',
      message: `relay ${relay.relayId} has failed ${relay.consecutiveFailures} times in a row (limit ${limits.maxFailures}): ${relay.lastError ?? 'no error recorded'}`,
    });
  }
  return {
    ...status,
    oldestUnpublishedAgeMs: ageMs,
    maxAgeMs: limits.maxAgeMs,
    behind,
    maxFailures: limits.maxFailures,
    sharedOutbox: limits.sharedOutbox,
    leaseHolder: limits.sharedOutbox ? null : list.leaseHolder,
    relays,
    problems,
  };
}

/** A duration as people read it in a table: `4 s`, `12 min`, `3 h`, `2 d`. */
export function formatAge(ms: number): string {
  const seconds = Math.round(ms / 1000);
  if (seconds < 120) return `${seconds} s`;
  if (seconds < 7_200) return `${Math.round(seconds / 60)} min`;
  if (seconds < 172_800) return `${Math.round(seconds / 3_600)} h`;
  return `${Math.round(seconds / 86_400)} d`;
}

const clip = (text: string, max: number) => (text.length > max ? `${text.slice(0, max - 1)}…` : text);

function relaysText(report: OutboxReport): string[] {
  const count = (state: RelayState) => report.relays.filter((relay) => relay.state === state).length;
  const summary =
    report.relays.length === 0
      ? 'none has reported a heartbeat'
      : `${count('running')} running, ${count('silent')} silent, ${count('stopped')} stopped`;
  const lease = report.sharedOutbox
    ? 'relays share the outbox, each claiming rows no other holds'
    : `one relay publishes at a time; the outbox lease is held by ${report.leaseHolder ?? 'nobody'}`;
  const lines = [`relays                  ${summary}`, `                        (${lease})`];
  if (report.relays.length === 0) return lines;
  const rows = report.relays.map((relay) => [
    relay.relayId,
    relay.state,
    relay.host === null ? '-' : `${relay.host}:${relay.pid ?? '-'}`,
    `${formatAge(relay.heartbeatAgeMs)} ago`,
    String(relay.published),
    relay.lastPublishedAgeMs === null ? '-' : `${formatAge(relay.lastPublishedAgeMs)} ago`,
    String(relay.consecutiveFailures),
    relay.lastError === null ? '-' : clip(relay.lastError, 60),
  ]);
  const header = [
    'RELAY',
    'STATE',
    'HOST:PID',
    'HEARTBEAT',
    'PUBLISHED',
    'LAST PUBLISHED',
    'FAILURES',
    'LAST ERROR',
  ];
  return [...lines, '', table(header, rows)];
}

/** The report for people: the figures, the relays, then each problem or an ok line. */
export function formatOutboxReport(report: OutboxReport, maxAge: string): string {
  const oldest =
    report.oldestUnpublishedAt === null
      ? '-'
      : `${report.oldestUnpublishedAt.toISOString()} (${Math.round(report.oldestUnpublishedAgeMs / 1000)} s ago)`;
  return [
    `backlog                 ${report.backlog} unpublished message(s)`,
    `oldest unpublished      ${oldest}`,
    `published, not pruned   ${report.publishedRetained}`,
    ...relaysText(report),
    '',
    ...(report.problems.length === 0
      ? [
          `ok: nothing has waited longer than ${maxAge}, and no running relay has failed ${report.maxFailures} times in a row`,
        ]
      : report.problems.map((problem) => `PROBLEM: ${problem.message}`)),
  ].join('\n');
}
