/**
 * `@converge/core/testing`: contract suites and helpers for adapter authors and for Converge's
 * own tests. Depends on Vitest.
 */

export { describeCommandReplyStoreContract } from './command-reply-store-contract.js';
export { describeIdempotencyStoreContract } from './idempotency-store-contract.js';
export {
  createInferTestDatabase,
  createSysopsSchema,
  INFER_POSTGRES_URL_ENV,
  type InferTestDatabase,
  runSysopsTraffic,
  SYSOPS_ROLES,
} from './inference-traffic.js';
export { createPostgresTestDatabase, type PostgresTestDatabase } from './postgres-test-database.js';
export { describeSagaStoreContract, type SagaStoreFactory } from './saga-store-contract.js';
export { describeStorageContract, type StorageFactory } from './storage-contract.js';
export { describeTransportContract, type TransportFactory } from './transport-contract.js';
export { waitFor } from './wait-for.js';
