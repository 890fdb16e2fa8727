/**
 * The work every saga step does, the same for Converge, DBOS and the bare baseline: one
 * autocommit `INSERT` of a small row into the step's participant database (three participant
 * databases, one per step, as three services would have). The row has the shape of the raw
 * ceiling's row (bigserial key and two short texts), so a step costs one raw commit.
 */
import pg from 'pg';

export const STEPS = Object.freeze(['reserve', 'charge', 'notify']);

const EFFECT_TABLE_SQL =
  'CREATE TABLE IF NOT EXISTS step_effect (id bigserial PRIMARY KEY, saga_id text NOT NULL, step text NOT NULL)';
const EFFECT_SQL = 'INSERT INTO step_effect (saga_id, step) VALUES ($1, $2)';
const UNDO_SQL = 'DELETE FROM step_effect WHERE saga_id = $1 AND step = $2';

/** Creates the effect table in each participant database (or empties it before a run). */
export async function resetParticipants(urls) {
  for (const url of urls) {
    const client = new pg.Client({ connectionString: url, application_name: 'converge-bench-sagas' });
    await client.connect();
    try {
      await client.query(EFFECT_TABLE_SQL);
      await client.query('TRUNCATE step_effect');
    } finally {
      await client.end();
    }
  }
}

/**
 * Counts each participant's effects: rows, distinct (saga, step) pairs and distinct sagas. Every
 * saga that ran wrote one row per participant exactly when rows = pairs = sagas everywhere.
 */
export async function countEffects(urls) {
  const counts = [];
  for (const url of urls) {
    const client = new pg.Client({ connectionString: url, application_name: 'converge-bench-sagas' });
    await client.connect();
    try {
      const { rows } = await client.query(
        'SELECT count(*)::int AS rows, count(DISTINCT (saga_id, step))::int AS pairs, count(DISTINCT saga_id)::int AS sagas FROM step_effect',
      );
      counts.push(rows[0]);
    } finally {
      await client.end();
    }
  }
  return counts;
}

/**
 * One pool per participant (`max` connections each) and the step's write and undo on them.
 * `write(stepIndex, sagaId)` commits one row in participant `stepIndex`.
 */
export function openParticipants(urls, max) {
  const pools = urls.map(
    (connectionString) => new pg.Pool({ connectionString, max, application_name: 'converge-bench-sagas' }),
  );
  for (const pool of pools) pool.on('error', () => {});
  return {
    write: (stepIndex, sagaId) => pools[stepIndex].query(EFFECT_SQL, [sagaId, STEPS[stepIndex]]),
    undo: (stepIndex, sagaId) => pools[stepIndex].query(UNDO_SQL, [sagaId, STEPS[stepIndex]]),
    close: () => Promise.all(pools.map((pool) => pool.end())),
  };
}
