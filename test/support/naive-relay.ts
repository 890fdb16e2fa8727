/**
 * The relay Converge deliberately is not: it remembers the highest outbox `position` it has read
 * and next asks only for rows after it (`WHERE position > $1`). It exists so a test can show what
 * that design loses. A position comes from a sequence when the row is inserted, not when its
 * transaction commits, so a transaction holding a lower position can commit after the cursor has
 * already moved past it; that row is then never read.
 *
 * It only reads: it never marks rows published, so it does not disturb a real relay running on
 * the same outbox.
 */
import pg from 'pg';

export interface NaiveRelay {
  /** Message ids it "published", in the order it read them. */
  readonly published: readonly string[];
  /** The highest position read so far (0 before the first row). */
  readonly lastPosition: number;
  /** Reads and "publishes" the next rows after `lastPosition`; returns how many. */
  pollOnce(): Promise<number>;
  close(): Promise<void>;
}

/** Connects a naive relay, with its own connection, to the outbox at `connectionString`. */
export async function createNaiveRelay(options: {
  readonly connectionString: string;
  /** Rows per read. Default 100. */
  readonly batchSize?: number;
}): Promise<NaiveRelay> {
  const batchSize = options.batchSize ?? 100;
  const client = new pg.Client({ connectionString: options.connectionString });
  client.on('error', () => {});
  await client.connect();
  const published: string[] = [];
  let lastPosition = 0;
  return {
    published,
    get lastPosition() {
      return lastPosition;
    },
    async pollOnce() {
      const { rows } = await client.query<{ position: string; message_id: string }>(
        'SELECT position, message_id FROM converge.outbox WHERE position > $1 ORDER BY position LIMIT $2',
        [lastPosition, batchSize],
      );
      for (const row of rows) {
        published.push(row.message_id);
        lastPosition = Math.max(lastPosition, Number(row.position));
      }
      return rows.length;
    },
    async close() {
      await client.end();
    },
  };
}
