// The backend contract on PostgreSQL: each instance opens its own pool on one private schema, as
// a process of its own would; alternately from a URL (with ?schema=) and from a pool of the
// spec's. Result backends on PostgreSQL are StoreResultBackends on the PostgresBroker's store
// (branch pg-broker): their contract joins this file when the two branches merge.
import pg from "pg";
import { PostgresCancellationBackend, PostgresRateLimiterBackend } from "../../brokers/postgres/backends.ts";
import { dropSchema, postgresUrl, uniqueSchema, urlWithSchema } from "../helpers/postgres-backends.ts";
import { cancellationContract } from "./backends/cancellation.contract.ts";
import { rateLimiterContract } from "./backends/rate-limiter.contract.ts";
import type { BackendFactory } from "./backends/index.ts";

const factory: BackendFactory = async () => {
  const schema = uniqueSchema("backend_contract");
  const pool = new pg.Pool({ connectionString: postgresUrl(), max: 4 });
  pool.on("error", () => {});
  const opened: { close(): Promise<void> }[] = [];
  const open = <T extends { close(): Promise<void> }>(backend: T): T => {
    opened.push(backend);
    return backend;
  };
  const options = () => (opened.length % 2 ? { pool, schema } : { url: urlWithSchema(schema) });
  return {
    shared: true,
    cancellation: () => open(new PostgresCancellationBackend(options())),
    rateLimiter: () => open(new PostgresRateLimiterBackend(options())),
    results: () => {
      throw new Error("Result backends on PostgreSQL come with the PostgresBroker's store (branch pg-broker)");
    },
    close: async () => {
      for (const backend of opened) await backend.close();
      await pool.end();
      await dropSchema(schema);
    },
  };
};

cancellationContract("postgres", factory);
rateLimiterContract("postgres", factory);
