// The backend contract on PostgreSQL: each instance opens its own pool on one private schema, as
// a process of its own would; alternately from a URL (with ?schema=) and from a pool of the
// spec's. Result backends are StoreResultBackends on a PostgresBroker's store.
import pg from "pg";
import { PostgresBroker, PostgresCancellationBackend, PostgresRateLimiterBackend } from "../../brokers/postgres/index.ts";
import { StoreResultBackend } from "../../lib/index.ts";
import { dropSchema, postgresUrl, uniqueSchema, urlWithSchema } from "../helpers/postgres.ts";
import { backendContract, type BackendFactory } from "./backends/index.ts";

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
    // Results live in the store of a PostgresBroker of their own, on the same schema.
    results: () => {
      const broker = open(new PostgresBroker({ url: urlWithSchema(schema), middleware: [] }));
      return open(new StoreResultBackend({ store: broker.store }));
    },
    close: async () => {
      // Results before their brokers.
      for (const backend of opened.reverse()) await backend.close();
      await pool.end();
      await dropSchema(schema);
    },
  };
};

backendContract("postgres", factory);
