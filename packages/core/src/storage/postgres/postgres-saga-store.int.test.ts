import { describe } from 'vitest';
import { createPostgresTestDatabase } from '../../testing/postgres-test-database.js';
import { describeSagaStoreContract } from '../../testing/saga-store-contract.js';
import { createPostgresStorage } from './postgres-storage.js';

const probe = await createPostgresTestDatabase('postgres saga store');
await probe?.drop();

describe.skipIf(!probe)('PostgreSQL saga store', () => {
  // A database per test, and every storage its own pool: concurrent claimers and starters really
  // race on the server.
  describeSagaStoreContract('PostgreSQL', async () => {
    const db = (await createPostgresTestDatabase('postgres saga store'))!;
    return {
      storage: createPostgresStorage({ connectionString: db.url }),
      connect: async () => createPostgresStorage({ connectionString: db.url, max: 4 }),
      cleanup: () => db.drop(),
    };
  });
});
