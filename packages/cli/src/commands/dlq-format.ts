/** How `converge dlq` prints dead letters for people: aligned tables and a detail view. */
import type { DeadLetterAuditEntry, StoredDeadLetter } from '@converge/core';

/** A plain aligned table (no colours: logs and pipes read it too). */
export function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((title, i) =>
    Math.max(title.length, ...rows.map((row) => (row[i] ?? '').length)),
  );
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, i) => cell.padEnd(widths[i] ?? 0))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}

const clip = (text: string | null, max: number) =>
  text === null ? '-' : text.length > max ? `${text.slice(0, max - 1)}…` : text;

export function deadLetterTable(letters: readonly StoredDeadLetter[]): string {
  if (letters.length === 0) return 'No dead letters match.';
  return table(
    ['ID', 'CONSUMER', 'REASON', 'TYPE', 'KEY', 'SEQ', 'STATUS', 'LAST FAILED', 'ERROR'],
    letters.map((d) => [
      String(d.id),
      d.consumer,
      d.reason,
      clip(d.type, 30),
      clip(d.key, 24),
      d.sequence === null ? '-' : String(d.sequence),
      d.status,
      d.lastFailedAt.toISOString(),
      clip(d.errorMessage, 60),
    ]),
  );
}

export interface FingerprintGroup {
  readonly fingerprint: string;
  readonly reason: string;
  readonly count: number;
  readonly consumers: string[];
  readonly example: string;
  readonly ids: number[];
}

/** Dead letters grouped by failure fingerprint, largest group first. */
export function deadLetterGroups(letters: readonly StoredDeadLetter[]): {
  readonly groups: FingerprintGroup[];
  readonly text: string;
} {
  const byFingerprint = new Map<string, StoredDeadLetter[]>();
  for (const letter of letters)
    byFingerprint.set(letter.fingerprint, [...(byFingerprint.get(letter.fingerprint) ?? []), letter]);
  const groups = [...byFingerprint.entries()]
    .map(([fingerprint, members]) => ({
      fingerprint,
      reason: members[0]!.reason,
      count: members.length,
      consumers: [...new Set(members.map((m) => m.consumer))],
      example: members[0]!.errorMessage,
      ids: members.map((m) => m.id),
    }))
    .sort((a, b) => b.count - a.count);
  const text =
    groups.length === 0
      ? 'No dead letters match.'
      : table(
          ['COUNT', 'FINGERPRINT', 'REASON', 'CONSUMERS', 'EXAMPLE'],
          groups.map((g) => [
            String(g.count),
            g.fingerprint,
            g.reason,
            g.consumers.join(','),
            clip(g.example, 60),
          ]),
        );
  return { groups, text };
}

export function deadLetterDetail(letter: StoredDeadLetter, audit: readonly DeadLetterAuditEntry[]): string {
  const fields: [string, string][] = [
    ['id', String(letter.id)],
    ['status', letter.status],
    ['consumer', letter.consumer],
    ['reason', letter.reason],
    ['error', `${letter.errorClass}: ${letter.errorMessage}`],
    ['fingerprint', letter.fingerprint],
    ['message id', letter.messageId ?? '-'],
    ['source / type', `${letter.source ?? '-'} / ${letter.type ?? '-'}`],
    ['key / sequence', `${letter.key ?? '-'} / ${letter.sequence ?? '-'}`],
    ['policy', letter.policy],
    ['attempts', String(letter.attempts)],
    ['first / last failure', `${letter.firstFailedAt.toISOString()} / ${letter.lastFailedAt.toISOString()}`],
    [
      'payload',
      `${letter.bodyBytes} bytes, sha256 ${letter.bodySha256}${letter.bodyTruncated ? ' (cut at the cap)' : ''}`,
    ],
  ];
  const width = Math.max(...fields.map(([name]) => name.length));
  return [
    ...fields.map(([name, value]) => `${name.padEnd(width)}  ${value}`),
    '',
    'Payload:',
    letter.body,
    '',
    'Audit trail:',
    table(
      ['AT', 'ACTOR', 'ACTION', 'DETAIL'],
      audit.map((entry) => [entry.at.toISOString(), entry.actor, entry.action, entry.detail]),
    ),
  ].join('\n');
}
