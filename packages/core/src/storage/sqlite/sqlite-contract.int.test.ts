import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeCommandReplyStoreContract } from '../../testing/command-reply-store-contract.js';
import { describeIdempotencyStoreContract } from '../../testing/idempotency-store-contract.js';
import { describeStorageContract, type StorageFactory } from '../../testing/storage-contract.js';
import { describeTransportContract } from '../../testing/transport-contract.js';
import { createSqlLogTransport } from '../../transports/sql-log/sql-log-transport.js';
import { createSqliteStorage } from './sqlite-storage.js';

function tempFile() {
  const dir = mkdtempSync(join(tmpdir(), 'converge-sqlite-'));
  return { path: join(dir, 'test.db'), cleanup: async () => rmSync(dir, { recursive: true, force: true }) };
}

/** Storage in a new SQLite file, removed afterwards. */
const freshFile: StorageFactory = async () => {
  const { path, cleanup } = tempFile();
  return { storage: createSqliteStorage({ path }), cleanup };
};

describeStorageContract('SQLite file', freshFile);
describeIdempotencyStoreContract('SQLite file', freshFile);
describeCommandReplyStoreContract('SQLite file', freshFile);

describeTransportContract('SQL log on a SQLite file', async () => {
  const { path, cleanup } = tempFile();
  const storage = createSqliteStorage({ path });
  await storage.migrate();
  return {
    transport: createSqlLogTransport({ storage, pollIntervalMs: 20 }),
    cleanup: async () => {
      await storage.close();
      await cleanup();
    },
  };
});
