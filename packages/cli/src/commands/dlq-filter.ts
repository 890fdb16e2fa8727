/**
 * Filters of `converge dlq list` (and `--filter field=value` of replay and archive), `--rate`, and
 * id arguments: checked, with a clear error for bad input.
 */
import { ConvergeError, DeadLetterReason, type StoredDeadLetter } from '@converge/core';

export interface ListFilter {
  readonly consumer?: string;
  readonly type?: string;
  readonly reason?: string;
  readonly key?: string;
  readonly status?: string;
  readonly since?: string;
  readonly fingerprint?: string;
}

/** The fields `--filter field=value` accepts: those of `dlq list` but `status` (always open). */
export const FILTER_FIELDS = ['consumer', 'type', 'reason', 'key', 'since', 'fingerprint'] as const;

const STATUSES = ['open', 'replaying', 'replayed', 'archived'];
const UNITS: Readonly<Record<string, number>> = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Dead letters matching every given filter. */
export function filterDeadLetters(
  letters: readonly StoredDeadLetter[],
  filter: ListFilter,
  now: Date,
): StoredDeadLetter[] {
  if (filter.reason !== undefined && !(filter.reason in DeadLetterReason)) {
    throw usageError(
      `--reason '${filter.reason}' is not a reason code; use one of ${Object.keys(DeadLetterReason).join(', ')}.`,
    );
  }
  if (filter.status !== undefined && !STATUSES.includes(filter.status)) {
    throw usageError(`--status '${filter.status}' is not a status; use one of ${STATUSES.join(', ')}.`);
  }
  const after = filter.since === undefined ? null : now.getTime() - parseDuration(filter.since);
  return letters.filter(
    (letter) =>
      (filter.type === undefined || letter.type === filter.type) &&
      (filter.reason === undefined || letter.reason === filter.reason) &&
      (filter.key === undefined || letter.key === filter.key) &&
      (filter.status === undefined || letter.status === filter.status) &&
      (filter.fingerprint === undefined || letter.fingerprint === filter.fingerprint) &&
      (after === null || letter.lastFailedAt.getTime() >= after),
  );
}

/**
 * `--filter reason=HANDLER_RETRIES_EXHAUSTED --filter consumer=billing` as one filter (the
 * conditions all hold). Each field at most once; `status` is not a field, a bulk action only
 * acts on open dead letters.
 */
export function parseFilterExpressions(expressions: readonly string[]): ListFilter {
  const filter: Record<string, string> = {};
  for (const expression of expressions) {
    const [, field, value] = /^([a-z]+)=(.+)$/.exec(expression.trim()) ?? [];
    if (field === undefined || value === undefined || !(FILTER_FIELDS as readonly string[]).includes(field)) {
      throw usageError(
        `--filter '${expression}' is not field=value with a field among ${FILTER_FIELDS.join(', ')} (a bulk action only acts on open dead letters), e.g. --filter reason=HANDLER_RETRIES_EXHAUSTED.`,
      );
    }
    if (field in filter) throw usageError(`--filter ${field}=… is given twice; give each field once.`);
    filter[field] = value;
  }
  return filter;
}

/** `--rate 10/s` or `120/m` as the time between two requests, in milliseconds. */
export function parseRate(text: string): number {
  const match = /^(\d+(?:\.\d+)?)\/(s|m)$/.exec(text.trim());
  const perUnit = match === null ? 0 : Number(match[1]);
  if (match === null || !(perUnit > 0)) {
    throw usageError(
      `--rate '${text}' is not a rate; use a positive number per second or minute, e.g. 10/s or 120/m.`,
    );
  }
  return (match[2] === 's' ? 1_000 : 60_000) / perUnit;
}

/** `90s`, `30m`, `1h`, `2d` in milliseconds; `option` names the flag in the error. */
export function parseDuration(text: string, option = '--since'): number {
  const match = /^(\d+)([smhd])$/.exec(text.trim());
  if (match === null) {
    throw usageError(`${option} '${text}' is not a duration; use a number and s, m, h or d, e.g. 30m or 1h.`);
  }
  return Number(match[1]) * (UNITS[match[2]!] ?? 0);
}

/** Positive integer ids, or a usage error naming the first bad one. */
export function parseIds(ids: readonly string[]): number[] {
  return ids.map((id) => {
    if (!/^[1-9]\d{0,15}$/.test(id))
      throw usageError(
        `'${id}' is not a dead letter id; ids are positive whole numbers (see 'converge dlq list').`,
      );
    return Number(id);
  });
}

/** A `CONFIG_INVALID` error (exit 2) for a bad command line. */
export function usageError(message: string): ConvergeError {
  return new ConvergeError('CONFIG_INVALID', message);
}
