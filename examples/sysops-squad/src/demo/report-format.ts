/** Small pieces both demo reports print with. */

/** `name n, name n` for counts by name. */
export const listCounts = (counts: Readonly<Record<string, number>>): string =>
  Object.entries(counts)
    .map(([name, n]) => `${name} ${n}`)
    .join(', ');

/** `ok` or `FAILED`, after a line's figure. */
export const mark = (ok: boolean): string => (ok ? 'ok' : 'FAILED');
