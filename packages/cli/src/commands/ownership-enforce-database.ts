/**
 * The PostgreSQL database `converge ownership apply|verify|plan` work on, and a connection to it.
 *
 * Which database: `--database`; else, with `--service S`, S's `database` in the manifest (its
 * `${NAME}` references expanded from the environment), since a service with a database of its own
 * is enforced there; else `CONVERGE_DATABASE_URL`, else the configuration file, as every command.
 * A SQLite URL is refused: SQLite has no roles to enforce anything with.
 */
import {
  ConvergeError,
  type EnforcementClient,
  expandDatabaseUrl,
  type Manifest,
  maskSecrets,
  parseDatabaseUrl,
} from '@converge/core';
import type { CliContext } from '../cli-context.js';
import type { DatabaseCommandOptions } from '../common-options.js';
import { databaseFailure } from '../database-failure.js';
import { type DatabaseChoice, passwordOf } from '../resolve-database-url.js';
import { chooseDatabase } from '../use-database.js';

/** How long to wait for the server before failing (pg's own default waits forever). */
const CONNECT_TIMEOUT_MS = 10_000;

/** The database chosen for enforcement, its URL masked for every message. */
export interface EnforcementDatabase extends DatabaseChoice {
  /** The URL with its password masked: what messages show. */
  readonly shown: string;
}

/**
 * The database to enforce `manifest` in (see the file comment), with its password registered as a
 * secret of the output.
 *
 * @throws ConvergeError `CONFIG_INVALID` when no database is given anywhere,
 *   `DATABASE_URL_VARIABLE_MISSING` for a `${NAME}` that is not set, and
 *   `OWNERSHIP_ENFORCEMENT_NEEDS_POSTGRES` for a SQLite database.
 */
export function enforcementDatabase(
  options: DatabaseCommandOptions & { readonly service?: string },
  manifest: Manifest,
  context: CliContext,
): EnforcementDatabase {
  const service = manifest.services.find((candidate) => candidate.name === options.service);
  const choice =
    options.database === undefined && service !== undefined
      ? {
          url: expandDatabaseUrl(service.database, context.env, { service: service.name }),
          from: `the manifest's database of service '${service.name}'`,
        }
      : chooseDatabase(options, context);
  const password = passwordOf(choice.url);
  if (password !== undefined) context.output.addSecret(password);
  const shown = maskSecrets(choice.url.trim());
  if (parseDatabaseUrl(choice.url).kind !== 'postgres') throw sqliteRefusal(shown);
  return { ...choice, shown };
}

/** Why SQLite cannot enforce the manifest, and what Converge offers instead. */
export function sqliteRefusal(shown: string): ConvergeError {
  return new ConvergeError(
    'OWNERSHIP_ENFORCEMENT_NEEDS_POSTGRES',
    `SQLite has no roles or grants, so '${shown}' cannot enforce the manifest: any code that opens the file may write any table. Instead, wrap the transactions your service writes through with createOwnershipGuard (@converge/core/ownership-guard: a write to a table the service does not own throws OWNERSHIP_VIOLATION before it runs), and run 'converge ownership check -f converge.yaml' in CI. See docs/ownership-enforcement.md.`,
    { details: { database: shown } },
  );
}

/**
 * Connects to `database` with one `pg.Client`, runs `work` and disconnects, also when `work`
 * throws. A driver error becomes a `ConvergeError` naming the database, password masked.
 */
export async function withEnforcementClient<T>(
  database: EnforcementDatabase,
  work: (client: EnforcementClient) => Promise<T>,
): Promise<T> {
  const { default: pg } = await import('pg');
  const client = new pg.Client({
    connectionString: database.url.trim(),
    connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
    application_name: 'converge ownership',
  });
  // An error on an idle client (the server went away) surfaces on the next query instead.
  client.on('error', () => undefined);
  try {
    await client.connect();
    return await work(client);
  } catch (error) {
    throw databaseFailure(error, database.shown);
  } finally {
    await client.end().catch(() => undefined);
  }
}
