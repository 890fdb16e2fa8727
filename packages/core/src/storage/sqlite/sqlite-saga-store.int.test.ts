import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeSagaStoreContract } from '../../testing/saga-store-contract.js';
import { createSqliteStorage } from './sqlite-storage.js';

describeSagaStoreContract('SQLite file', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'converge-saga-'));
  const path = join(dir, 'orchestrator.db');
  return {
    storage: createSqliteStorage({ path }),
    connect: async () => createSqliteStorage({ path }),
    cleanup: async () => rmSync(dir, { recursive: true, force: true }),
  };
});
