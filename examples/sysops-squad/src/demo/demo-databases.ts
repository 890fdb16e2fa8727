/**
 * Where the demo's services keep their data: a SQLite file each in the demo folder (the
 * default, no server needed), or with `postgres` a fresh PostgreSQL database each, created on
 * the server that URL names and dropped afterwards unless the run is kept.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { ConvergeError, maskSecrets, parseDatabaseUrl } from '@converge/core';
import type { DatabaseKind } from '../services/database.js';

export interface DemoDatabases {
  readonly kind: DatabaseKind;
  /** The URL of the database of `name` (a service, or `broker`). */
  url(name: string): string;
  /** Drops the PostgreSQL databases; nothing for SQLite (the folder goes with the run). */
  drop(): Promise<void>;
}

export async function createDemoDatabases(
  dir: string,
  names: readonly string[],
  postgres: string | undefined,
): Promise<DemoDatabases> {
  if (postgres === undefined) {
    return {
      kind: 'sqlite',
      url: (name) => `sqlite:${join(dir, `${name}.db`)}`,
      drop: async () => undefined,
    };
  }
  const server = parseDatabaseUrl(postgres);
  if (server.kind !== 'postgres') {
    throw new ConvergeError(
      'CONFIG_INVALID',
      `--postgres takes a postgres:// URL of a server where the demo may create databases (got '${maskSecrets(postgres)}').`,
      { details: { field: 'postgres' } },
    );
  }
  const { default: pg } = await import('pg');
  const prefix = `converge_demo_${randomBytes(4).toString('hex')}`;
  const databaseOf = (name: string) => `${prefix}_${name.replaceAll('-', '_')}`;
  const admin = new pg.Client({ connectionString: server.url });
  try {
    await admin.connect();
    // The names are ours (a fixed prefix, hex and the services' names), never user input.
    for (const name of names) await admin.query(`CREATE DATABASE ${databaseOf(name)}`);
  } catch (error) {
    await admin.end().catch(() => undefined);
    throw new ConvergeError(
      'DATABASE_CONNECTION_FAILED',
      `Could not create the demo's databases on ${maskSecrets(postgres)}: ${error instanceof Error ? error.message : String(error)}. The role needs CREATEDB.`,
      { cause: error },
    );
  }
  const url = (name: string) => {
    const target = new URL(server.url);
    target.pathname = `/${databaseOf(name)}`;
    return target.toString();
  };
  return {
    kind: 'postgres',
    url,
    async drop() {
      try {
        for (const name of names)
          await admin.query(`DROP DATABASE IF EXISTS ${databaseOf(name)} WITH (FORCE)`);
      } finally {
        await admin.end();
      }
    },
  };
}
