/** Finding the saga a `converge saga` command names: a checked id, then the stored record. */
import { ConvergeError, maskSecrets, type SagaRecord, type Storage } from '@converge/core';
import { usageError } from './dlq-filter.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Checks `id` before any database is opened: saga ids are UUIDs.
 *
 * @throws ConvergeError `CONFIG_INVALID` (exit 2) naming the id.
 */
export function checkSagaId(id: string): string {
  if (!UUID.test(id.trim())) {
    throw usageError(
      `'${id}' is not a saga id; ids are UUIDs such as 0190a5c4-…-… (see 'converge saga list').`,
    );
  }
  return id.trim().toLowerCase();
}

/**
 * The saga `id`, as stored.
 *
 * @throws ConvergeError `SAGA_NOT_FOUND` (exit 4) when the database has no such saga.
 */
export async function loadSaga(storage: Storage, id: string): Promise<SagaRecord> {
  const record = await storage.sagas.get(id);
  if (record === undefined) throw sagaNotFound(storage, id);
  return record;
}

/** `SAGA_NOT_FOUND`, naming the database (password masked). */
export function sagaNotFound(storage: Storage, id: string): ConvergeError {
  return new ConvergeError(
    'SAGA_NOT_FOUND',
    `There is no saga ${id} in ${maskSecrets(storage.description)}; 'converge saga list' shows the ids.`,
    { details: { id } },
  );
}
