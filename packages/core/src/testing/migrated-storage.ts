import { afterEach, beforeEach } from 'vitest';
import type { Storage } from '../ports/storage.js';
import type { StorageFactory } from './storage-contract.js';

/** The storage of the running test, set by `useMigratedStorage`'s hooks. */
export interface MigratedStorage {
  /** @throws Error when read outside a test (before the first `beforeEach`). */
  readonly storage: Storage;
}

/**
 * Registers hooks (in the enclosing `describe`) giving each test a fresh storage from `factory`,
 * migrated to the latest schema, and closing and removing it afterwards.
 */
export function useMigratedStorage(factory: StorageFactory): MigratedStorage {
  let current: { storage: Storage; cleanup: () => Promise<void> } | undefined;
  beforeEach(async () => {
    current = await factory();
    await current.storage.migrate();
  });
  afterEach(async () => {
    const ending = current;
    current = undefined;
    await ending?.storage.close();
    await ending?.cleanup();
  });
  return {
    get storage(): Storage {
      if (current === undefined)
        throw new Error('useMigratedStorage: the storage exists only inside a test.');
      return current.storage;
    },
  };
}
