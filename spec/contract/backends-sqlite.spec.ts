// The backend contract on SQLite: each instance opens its own connection to one temporary file,
// as a process of its own would (results live in the store of a broker of their own).
import { SqliteBroker, SqliteCancellationBackend, SqliteRateLimiterBackend } from "../../brokers/sqlite/index.ts";
import { StoreResultBackend } from "../../lib/index.ts";
import { tempDatabase } from "../fixtures/sqlite-files.ts";
import { backendContract, type BackendFactory } from "./backends/index.ts";

const factory: BackendFactory = async () => {
  const db = tempDatabase();
  const opened: { close(): Promise<void> }[] = [];
  const open = <T extends { close(): Promise<void> }>(backend: T): T => {
    opened.push(backend);
    return backend;
  };
  return {
    shared: true,
    // Alternately by path and by URL: both name the same file.
    cancellation: () => open(new SqliteCancellationBackend(opened.length % 2 ? { path: db.path } : { url: `sqlite://${db.path}` })),
    rateLimiter: () => open(new SqliteRateLimiterBackend(opened.length % 2 ? { path: db.path } : { url: `sqlite://${db.path}` })),
    results: () => {
      const broker = open(new SqliteBroker({ path: db.path }));
      return open(new StoreResultBackend({ store: broker.store }));
    },
    close: async () => {
      // Results before their brokers.
      for (const backend of opened.reverse()) await backend.close();
      db.cleanup();
    },
  };
};

backendContract("sqlite", factory);
