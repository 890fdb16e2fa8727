/**
 * Applying a plan: read the catalog, plan against it, run the statements, all in one transaction,
 * so a failure leaves the database as it was. Of two runs at once, the second may fail (a role
 * that now exists, "tuple concurrently updated") and then changes nothing; run it again.
 */
import { ConvergeError, describeError } from '../../core/errors.js';
import type { Manifest } from '../manifest.js';
import { type EnforcementScope, enforcementTarget } from './enforcement-target.js';
import { type EnforcementPlan, planEnforcement } from './plan-enforcement.js';
import { type EnforcementClient, readEnforcementCatalog } from './postgres-enforcement-catalog.js';

/** Options of `applyEnforcement`. */
export interface ApplyEnforcementOptions extends EnforcementScope {
  /** Plan against the live catalog and roll back without running anything. Default false. */
  readonly dryRun?: boolean;
  /**
   * The statements the caller reviewed (or confirmed): if the plan made inside the transaction is
   * not exactly these, nothing runs (`OWNERSHIP_PLAN_CHANGED`).
   */
  readonly expected?: readonly string[];
}

/** What `applyEnforcement` did. */
export interface EnforcementApplyReport extends EnforcementPlan {
  /** True when the statements ran and committed (false for a dry run or an empty plan). */
  readonly applied: boolean;
}

/**
 * Makes the database `client` is connected to enforce `manifest`: plans against its catalog and
 * runs the plan in one transaction. Idempotent: a second run plans nothing. Run it as a superuser
 * (or a role that may create roles and take over the tables' ownership).
 *
 * @throws ConvergeError as `planEnforcement` (before anything is sent), `OWNERSHIP_PLAN_CHANGED`,
 *   `OWNERSHIP_APPLY_FAILED` (a statement failed; the transaction was rolled back), and the
 *   driver's errors for the catalog queries.
 * @example const report = await applyEnforcement(client, manifest, { service: 'catalog' });
 */
export async function applyEnforcement(
  client: EnforcementClient,
  manifest: Manifest,
  options: ApplyEnforcementOptions = {},
): Promise<EnforcementApplyReport> {
  const target = enforcementTarget(manifest, options);
  await client.query('BEGIN');
  try {
    const catalog = await readEnforcementCatalog(client, target);
    const plan = planEnforcement(manifest, { ...options, catalog });
    const sql = plan.statements.map((statement) => statement.sql);
    if (options.expected !== undefined && !sameStatements(options.expected, sql)) {
      throw new ConvergeError(
        'OWNERSHIP_PLAN_CHANGED',
        `The database changed since the plan was made (${options.expected.length} statement(s) reviewed, ${sql.length} needed now); nothing was changed. Run the command again to see the new plan.`,
      );
    }
    if (options.dryRun === true || sql.length === 0) {
      await client.query('ROLLBACK');
      return { ...plan, applied: false };
    }
    for (const [index, statement] of sql.entries()) {
      try {
        await client.query(statement);
      } catch (cause) {
        throw new ConvergeError(
          'OWNERSHIP_APPLY_FAILED',
          `Statement ${index + 1} of ${sql.length} failed: ${statement}: ${describeError(cause).message}. Nothing was changed (the transaction was rolled back). Apply as a superuser, or as a role with CREATEROLE that is a member of the owner roles.`,
          { cause, details: { statement, index } },
        );
      }
    }
    await client.query('COMMIT');
    return { ...plan, applied: true };
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  }
}

function sameStatements(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((sql, index) => sql === b[index]);
}
