// The brokers the CLI recovery specs run on (spec/fixtures/cli-recovery-app.ts reads
// RECOVERY_BROKER): Redis, on a namespace of its own per test, SQLite, on a file in the test's
// directory, and PostgreSQL, on a schema of its own per test; each with a broker on the app's queue for the spec to enqueue and inspect through.
import { join } from "node:path";
import { SqliteBroker } from "../../brokers/sqlite/index.ts";
import { PostgresBroker } from "../../brokers/postgres/index.ts";
import { dropSchema, postgresUrl, uniqueSchema, urlWithSchema } from "../helpers/postgres.ts";
import type { Broker } from "../../lib/broker.ts";
import { redisNamespace } from "./redis-namespace.ts";
import { cliSpec, type CliSpec } from "./run-cli.ts";

/** One broker the recovery app can run on, as the spec sees it. */
export interface RecoveryBroker {
  /** Environment telling the app which broker to build. */
  env(): Record<string, string>;
  /** The URL for `--broker`. */
  url(): string;
  /** The spec's own broker on the app's queue. */
  broker(): Broker;
}

/** The app's queue. */
const QUEUE = "recovery";

/**
 * Defines `describe("on Redis")`, `describe("on SQLite")` and `describe("on PostgreSQL")`, each
 * with its own CliSpec (`<prefix>redis-`, `<prefix>sqlite-`, `<prefix>postgres-`) and broker (a
 * schema of its own per test on PostgreSQL), and calls `cases` inside each.
 */
export function onEachRecoveryBroker(prefix: string, cases: (name: string, spec: CliSpec, side: RecoveryBroker) => void): void {
  describe("on Redis", () => {
    const spec = cliSpec(`${prefix}redis-`);
    const redis = redisNamespace(prefix.replace(/-$/, ""), [QUEUE]);
    cases("Redis", spec, {
      env: () => ({ RECOVERY_BROKER: "redis", REDIS_URL: redis.url, CLI_SPEC_NS: redis.ns }),
      url: () => redis.brokerUrl(),
      broker: () => redis.broker,
    });
  });

  describe("on SQLite", () => {
    const spec = cliSpec(`${prefix}sqlite-`);
    let broker: SqliteBroker | undefined;
    const path = () => join(spec.dir, "jobs.sqlite");
    beforeEach(() => {
      broker = new SqliteBroker({ path: path(), middleware: [] });
      broker.declareQueue(QUEUE);
    });
    afterEach(async () => {
      await broker?.close();
      broker = undefined;
    });
    cases("SQLite", spec, {
      env: () => ({ RECOVERY_BROKER: "sqlite", SQLITE_PATH: path() }),
      url: () => `sqlite://${path()}`,
      broker: () => broker!,
    });
  });

  describe("on PostgreSQL", () => {
    const spec = cliSpec(`${prefix}postgres-`);
    let broker: PostgresBroker | undefined;
    let schema = "";
    beforeEach(() => {
      schema = uniqueSchema("recovery");
      broker = new PostgresBroker({ url: postgresUrl(), schema, middleware: [] });
      broker.declareQueue(QUEUE);
    });
    afterEach(async () => {
      await broker?.close();
      broker = undefined;
      await dropSchema(schema);
    });
    cases("PostgreSQL", spec, {
      env: () => ({ RECOVERY_BROKER: "postgres", DATABASE_URL: postgresUrl(), RECOVERY_SCHEMA: schema }),
      url: () => urlWithSchema(schema),
      broker: () => broker!,
    });
  });
}
