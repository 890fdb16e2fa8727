/**
 * What every crash-test child shares: opening a database from its URL (the CLI's own opener), the
 * SQL dialect of that URL, and a fault injector that kills this process with SIGKILL at the
 * `n`-th time it reaches the planned fault point (`CRASH_AT=point:n`), after noting it in
 * `CRASH_LOG` so the supervisor can tell a planned kill from its own.
 */
import { appendFileSync } from 'node:fs';
import { openStorage } from '../../../packages/cli/dist/open-storage.js';

export async function open(url) {
  const storage = await openStorage(url);
  await storage.assertSchemaCurrent();
  return storage;
}

/** Placeholder for the i-th bind parameter of `url`'s dialect. */
export const placeholder = (url) => (url.startsWith('postgres') ? (i) => `$${i}` : () => '?');

export function faultsFromEnv(role) {
  const plan = process.env.CRASH_AT ?? '';
  if (plan === '') return { reach() {} };
  const [point, nth] = plan.split(':');
  let reached = 0;
  return {
    reach(name) {
      if (name !== point) return;
      reached += 1;
      if (reached < Number(nth)) return;
      appendFileSync(process.env.CRASH_LOG, `${JSON.stringify({ role, point, pid: process.pid })}\n`);
      process.kill(process.pid, 'SIGKILL');
    },
  };
}

export function required(name) {
  const value = process.env[name];
  if (value === undefined || value === '') {
    console.error(`crash child: environment variable ${name} is required`);
    process.exit(2);
  }
  return value;
}
