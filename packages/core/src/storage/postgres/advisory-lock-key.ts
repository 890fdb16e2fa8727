/**
 * A fixed 64-bit advisory lock key for a name: FNV-1a over the name's UTF-8 bytes, as a signed
 * bigint in decimal (pass it as `$1::bigint`). Computed in JavaScript rather than with
 * `hashtext()`, whose output PostgreSQL does not promise to keep across major versions.
 *
 * @example advisoryLockKey('converge.migrate') // the same string in every process, every release
 */
export function advisoryLockKey(name: string): string {
  let hash = 0xcbf29ce484222325n;
  for (const byte of Buffer.from(name, 'utf8')) {
    hash ^= BigInt(byte);
    hash = (hash * 0x100000001b3n) & 0xffffffffffffffffn;
  }
  return BigInt.asIntN(64, hash).toString();
}

/** Held (session level) while one process migrates; other migrators wait for it. */
export const MIGRATE_LOCK_KEY = advisoryLockKey('converge.migrate');
/** Held (transaction level) by every SQL-log append, so appends commit one at a time. */
export const LOG_APPEND_LOCK_KEY = advisoryLockKey('converge.log');
