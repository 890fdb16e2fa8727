/** Filters of `converge dlq list`, and id arguments: checked, with a clear error for bad input. */
import { ConvergeError, DeadLetterReason, type StoredDeadLetter } from '@converge/core';

export interface ListFilter {
  readonly consumer?: string;
  readonly type?: string;
  readonly reason?: string;
  readonly key?: string;
  readonly status?: string;
  readonly since?: string;
}

const STATUSES = ['open', 'replaying', 'replayed', 'archived'];
const UNITS: Readonly<Record<string, number>> = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Dead letters matching every given filter. */
export function filterDeadLetters(
  letters: readonly StoredDeadLetter[],
  filter: ListFilter,
  now: Date,
): StoredDeadLetter[] {
  if (filter.reason !== undefined && !(filter.reason in DeadLetterReason)) {
    throw usage(
      `--reason '${filter.reason}' is not a reason code; use one of ${Object.keys(DeadLetterReason).join(', ')}.`,
    );
  }
  if (filter.status !== undefined && !STATUSES.includes(filter.status)) {
    throw usage(`--status '${filter.status}' is not a status; use one of ${STATUSES.join(', ')}.`);
  }
  const after = filter.since === undefined ? null : now.getTime() - parseDuration(filter.since);
  return letters.filter(
    (letter) =>
      (filter.type === undefined || letter.type === filter.type) &&
      (filter.reason === undefined || letter.reason === filter.reason) &&
      (filter.key === undefined || letter.key === filter.key) &&
      (filter.status === undefined || letter.status === filter.status) &&
      (after === null || letter.lastFailedAt.getTime() >= after),
  );
}

/** `90s`, `30m`, `1h`, `2d` in milliseconds; `option` names the flag in the error. */
export function parseDuration(text: string, option = '--since'): number {
  const match = /^(\d+)([smhd])$/.exec(text.trim());
  if (match === null) {
    throw usage(`${option} '${text}' is not a duration; use a number and s, m, h or d, e.g. 30m or 1h.`);
  }
  return Number(match[1]) * (UNITS[match[2]!] ?? 0);
}

/** Positive integer ids, or a usage error naming the first bad one. */
export function parseIds(ids: readonly string[]): number[] {
  return ids.map((id) => {
    if (!/^[1-9]\d{0,15}$/.test(id))
      throw usage(
        `'${id}' is not a dead letter id; ids are positive whole numbers (see 'converge dlq list').`,
      );
    return Number(id);
  });
}

function usage(message: string): ConvergeError {
  return new ConvergeError('CONFIG_INVALID', message);
}
