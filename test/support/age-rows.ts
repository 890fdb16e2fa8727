import type { Storage } from '../../packages/core/src/index.js';
import type { Backend } from './backends.js';

/**
 * Moves a time column of one of Converge's tables `ms` into the past, in every row or (with
 * `relayId`) in one relay's row: what the clock would have done while a relay was down or dead.
 *
 * @example await ageRows(backend, storage, { table: 'relay', column: 'heartbeat_at', ms: 60_000, relayId: 'r1' });
 */
export async function ageRows(
  backend: Backend,
  storage: Storage,
  target: {
    readonly table: 'outbox' | 'relay';
    readonly column: 'created_at' | 'heartbeat_at';
    readonly ms: number;
    readonly relayId?: string;
  },
): Promise<void> {
  const { table, column, ms, relayId } = target;
  const params = relayId === undefined ? [ms] : [ms, relayId];
  await storage.transaction((tx) =>
    backend.name === 'postgres'
      ? tx.execute(
          `UPDATE converge.${table} SET ${column} = ${column} - $1 * interval '1 millisecond'${relayId === undefined ? '' : ' WHERE relay_id = $2'}`,
          params,
        )
      : tx.execute(
          `UPDATE converge_${table} SET ${column} = ${column} - ?${relayId === undefined ? '' : ' WHERE relay_id = ?'}`,
          params,
        ),
  );
}
