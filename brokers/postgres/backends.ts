// The PostgreSQL cancellation and rate-limiter backends (brokers/postgres/index.ts re-exports them).
export { MAX_MESSAGE_ID_BYTES, PostgresCancellationBackend, type PostgresCancellationBackendOptions } from "./cancellation-backend.ts";
export { PostgresRateLimiterBackend, type PostgresRateLimiterBackendOptions } from "./rate-limiter-backend.ts";
export type { PostgresBackendOptions } from "./backend-connection.ts";
export { ensureBackendTables } from "./backend-tables.ts";
export { BACKEND_MIGRATION, type BackendMigration } from "./backend-migration.ts";
