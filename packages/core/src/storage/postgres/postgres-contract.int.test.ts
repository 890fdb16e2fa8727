import pg from 'pg';
import { afterAll, describe } from 'vitest';
import { describeCommandReplyStoreContract } from '../../testing/command-reply-store-contract.js';
import { describeIdempotencyStoreContract } from '../../testing/idempotency-store-contract.js';
import { createPostgresTestDatabase } from '../../testing/postgres-test-database.js';
import { describeStorageContract, type StorageFactory } from '../../testing/storage-contract.js';
import { describeTransportContract } from '../../testing/transport-contract.js';
import { createSqlLogTransport } from '../../transports/sql-log/sql-log-transport.js';
import { createPostgresStorage } from './postgres-storage.js';

const db = await createPostgresTestDatabase('postgres storage and SQL log contracts');

afterAll(async () => {
  await db?.drop();
});

/** Empties the database between tests: cheaper than a database per test, just as isolated. */
async function dropConvergeSchema(url: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query('DROP SCHEMA IF EXISTS converge CASCADE');
  } finally {
    await client.end();
  }
}

describe.skipIf(!db)('PostgreSQL adapter contracts', () => {
  const fresh: StorageFactory = async () => ({
    storage: createPostgresStorage({ connectionString: db!.url }),
    cleanup: () => dropConvergeSchema(db!.url),
  });

  describeStorageContract('PostgreSQL', fresh);
  describeIdempotencyStoreContract('PostgreSQL', fresh);
  describeCommandReplyStoreContract('PostgreSQL', fresh);

  describeTransportContract('SQL log on PostgreSQL', async () => {
    const storage = createPostgresStorage({ connectionString: db!.url });
    await storage.migrate();
    return {
      transport: createSqlLogTransport({ storage, pollIntervalMs: 20 }),
      cleanup: async () => {
        await storage.close();
        await dropConvergeSchema(db!.url);
      },
    };
  });
});
