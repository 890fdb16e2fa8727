/**
 * How `converge ownership plan|apply|verify` print a plan and the differences they find. A plan
 * prints as a SQL script that `psql -f` runs as it is: each statement on its own line, after a
 * `-- reason` comment, the whole in one transaction.
 *
 * Names found in the server's catalog (a role someone created by hand) can hold any character. In
 * a comment, a line break would end the comment and turn the rest of the name into SQL, so every
 * control character in a comment or a message is printed escaped (`\u000a`).
 */
import type { EnforcementDifference, EnforcementPlan } from '@converge/core';

/** `text` on one line, its control characters (line breaks, escape sequences) escaped. */
export function oneLine(text: string): string {
  return text.replace(
    /[\p{Cc}\u2028\u2029]/gu,
    (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

/**
 * The plan as a script: a heading, `BEGIN;`, each statement after its `-- reason`, `COMMIT;`,
 * then the differences no statement removes (a declared table that does not exist yet), as
 * comments. An empty plan is one comment line saying there is nothing to change.
 *
 * @example planScript(plan, 'converge.yaml against postgres://admin:***@db/app')
 */
export function planScript(plan: EnforcementPlan, subject: string): string {
  const lines = [`-- converge ownership plan: ${oneLine(subject)}`];
  if (plan.statements.length === 0) {
    lines.push('-- Nothing to change: 0 statements.');
  } else {
    lines.push(`-- ${plan.statements.length} statement(s), in one transaction.`, 'BEGIN;');
    for (const statement of plan.statements)
      lines.push('', `-- ${oneLine(statement.reason)}`, `${statement.sql};`);
    lines.push('', 'COMMIT;');
  }
  const unfixable = plan.differences.filter((difference) => difference.fix.length === 0);
  if (unfixable.length > 0) {
    lines.push('', `-- ${unfixable.length} difference(s) no statement removes:`);
    for (const difference of unfixable) lines.push(`-- ${oneLine(difference.message)}`);
  }
  return lines.join('\n');
}

/**
 * The differences `verify` found, one block each: kind, object and role, the message, the fix.
 *
 * @example differencesText(differences) // "extra-grant  table audit.audit_log  catalog_runtime\n  …"
 */
export function differencesText(differences: readonly EnforcementDifference[]): string {
  const blocks = differences.map((difference) => {
    const role = difference.role === undefined ? '' : `  ${difference.role}`;
    const fix =
      difference.fix.length === 0
        ? ['  fix: none that apply can make (see the message)']
        : difference.fix.map((sql) => `  fix: ${sql};`);
    return [`${difference.kind}  ${difference.object}${role}`, `  ${difference.message}`, ...fix]
      .map(oneLine)
      .join('\n');
  });
  return blocks.join('\n\n');
}
