/**
 * `@converge/core/postgres`: Converge's storage in PostgreSQL.
 *
 * @example
 * import { createPostgresStorage, pgTransaction } from '@converge/core/postgres';
 */
export type {
  PgClientLike,
  PgEventListener,
  PgNotificationLike,
  PgPoolLike,
  PgQueryResultLike,
} from './pg-like.js';
export { pgTransaction } from './pg-transaction.js';
export { createPostgresStorage, type PostgresStorageOptions } from './postgres-storage.js';
