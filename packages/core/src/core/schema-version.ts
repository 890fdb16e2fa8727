import { ConvergeError } from './errors.js';

/**
 * Compares a database's schema version with the newest this build knows.
 * @throws ConvergeError `SCHEMA_TOO_NEW` or `SCHEMA_OUT_OF_DATE`, naming the database and the remedy.
 */
export function assertSchemaVersion(description: string, found: number, latest: number): void {
  assertSchemaNotNewer(description, found, latest);
  if (found < latest) {
    throw new ConvergeError(
      'SCHEMA_OUT_OF_DATE',
      `Database ${description} has Converge schema version ${found}, this build needs ${latest}; run 'converge migrate --database <url>' (or storage.migrate()) first.`,
      { details: { found, latest } },
    );
  }
}

/**
 * Refuses a database migrated by a newer Converge (migrating it "down" is never safe).
 * @throws ConvergeError `SCHEMA_TOO_NEW`.
 */
export function assertSchemaNotNewer(description: string, found: number, latest: number): void {
  if (found > latest) {
    throw new ConvergeError(
      'SCHEMA_TOO_NEW',
      `Database ${description} has Converge schema version ${found}, newer than version ${latest} known to this @converge/core; upgrade @converge/core in this service before starting it against that database.`,
      { details: { found, latest } },
    );
  }
}
