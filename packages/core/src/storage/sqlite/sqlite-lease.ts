import type { StatementCache } from './sqlite-executor.js';

/**
 * A named lease with a fencing token, in `converge_lease`. Must be called inside a write
 * transaction (SQLite's single writer makes the read-then-write atomic).
 *
 * The token grows only when the lease changes hands, so whoever acted under an older token can be
 * refused later ("fencing"). Times are this machine's clock: every process sharing a SQLite file
 * runs on one machine.
 */
export function takeLease(
  statements: StatementCache,
  name: string,
  holderId: string,
  leaseMs: number,
  now: number,
): number | null {
  const current = statements.get<{ holder_id: string; token: number; expires_at: number }>(
    'SELECT holder_id, token, expires_at FROM converge_lease WHERE name = ?',
    [name],
  );
  if (current && current.holder_id !== holderId && current.expires_at > now) return null;
  const token =
    current === undefined ? 1 : current.holder_id === holderId ? current.token : current.token + 1;
  statements.run(
    `INSERT INTO converge_lease (name, holder_id, token, expires_at) VALUES (?, ?, ?, ?)
     ON CONFLICT (name) DO UPDATE SET holder_id = excluded.holder_id, token = excluded.token, expires_at = excluded.expires_at`,
    [name, holderId, token, now + leaseMs],
  );
  return token;
}

/** True when `holderId` still holds lease `name` with `token` (even if expired, as long as nobody took it). */
export function holdsLease(
  statements: StatementCache,
  name: string,
  holderId: string,
  token: number,
): boolean {
  const current = statements.get<{ holder_id: string; token: number }>(
    'SELECT holder_id, token FROM converge_lease WHERE name = ?',
    [name],
  );
  return current !== undefined && current.holder_id === holderId && current.token === token;
}

/** Lets lease `name` go if `holderId` holds it: it expires now; the token stays, so fencing still works. */
export function expireLease(statements: StatementCache, name: string, holderId: string): void {
  statements.run('UPDATE converge_lease SET expires_at = 0 WHERE name = ? AND holder_id = ?', [
    name,
    holderId,
  ]);
}
