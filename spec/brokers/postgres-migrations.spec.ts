import { expect } from "chai";
import { MIGRATIONS, PostgresBroker, SCHEMA_VERSION, SchemaVersionTooNew, type Migration } from "../../brokers/postgres/index.ts";
import { migrate, MIGRATION_LOCK } from "../../brokers/postgres/migrations.ts";
import { ConnectionFailed, InvalidOptions } from "../../lib/index.ts";
import { adminClient, adminQuery, dropSchema, postgresUrl, uniqueSchema } from "../helpers/postgres.ts";

describe("PostgresBroker schema and migrations", function () {
  this.timeout(20_000);
  let schema: string;
  const open: PostgresBroker[] = [];
  const newBroker = (options: { schema?: string; url?: string } = {}) => {
    const broker = new PostgresBroker({ url: options.url ?? postgresUrl(), schema: options.schema ?? schema, middleware: [], poolSize: 2 });
    open.push(broker);
    return broker;
  };

  beforeEach(() => {
    schema = uniqueSchema("migr");
  });

  afterEach(async () => {
    for (const broker of open.splice(0)) await broker.close();
    await dropSchema(schema);
  });

  it("creates the schema on first use, in its own schema, at the newest version", async () => {
    const broker = newBroker();
    broker.declareQueue("q");
    expect(await broker.depths("q")).to.deep.equal({ ready: 0, delayed: 0, inFlight: 0, dead: 0 });
    const tables = await adminQuery<{ table_name: string }>("SELECT table_name FROM information_schema.tables WHERE table_schema = $1 ORDER BY 1", [schema]);
    expect(tables.map((t) => t.table_name)).to.deep.equal([
      // 1: the broker's own
      ...["dead", "history", "kv", "messages", "schema_migrations", "workers"],
      // 2: the cancellation and rate-limiter backends'
      ...["barrier_members", "barriers", "cancellations", "limit_buckets", "limit_hits", "limit_slot_keys", "limit_slots", "limit_window_keys"],
    ].sort());
    const versions = await adminQuery<{ version: number }>(`SELECT version FROM "${schema}".schema_migrations ORDER BY version`);
    expect(versions.map((v) => v.version)).to.deep.equal(MIGRATIONS.map((m) => m.version));
    expect(SCHEMA_VERSION).to.equal(MIGRATIONS.at(-1)!.version);
    expect(MIGRATIONS.map((m) => m.version)).to.deep.equal(MIGRATIONS.map((_, i) => i + 1));
  });

  it("migrates once when ten brokers boot at the same moment (an advisory lock)", async () => {
    const brokers = Array.from({ length: 10 }, () => newBroker());
    const reports = await Promise.all(brokers.map((b) => b.migrate()));
    const applied = reports.flatMap((r) => r.applied.map((m) => m.version));
    expect(applied.sort()).to.deep.equal(MIGRATIONS.map((m) => m.version));
    expect(reports.filter((r) => r.applied.length > 0)).to.have.length(1);
    for (const report of reports) expect(report.to).to.equal(SCHEMA_VERSION);
    const rows = await adminQuery<{ n: string }>(`SELECT count(*) AS n FROM "${schema}".schema_migrations`);
    expect(Number(rows[0]!.n)).to.equal(MIGRATIONS.length);
    // A broker booting later finds nothing to do.
    expect((await newBroker().migrate()).applied).to.deep.equal([]);
  });

  it("applies only the migrations appended since, in order, each once (the list is append-only)", async () => {
    await newBroker().migrate();
    const later: Migration[] = [
      ...MIGRATIONS,
      { version: SCHEMA_VERSION + 1, name: "a later table", sql: (s) => `CREATE TABLE ${s}.later (id integer PRIMARY KEY)` },
      { version: SCHEMA_VERSION + 2, name: "a later column", sql: (s) => `ALTER TABLE ${s}.later ADD COLUMN note text` },
    ];
    const client = await adminClient();
    try {
      const report = await migrate(client, schema, later);
      expect(report).to.deep.include({ from: SCHEMA_VERSION, to: SCHEMA_VERSION + 2 });
      expect(report.applied.map((m) => m.name)).to.deep.equal(["a later table", "a later column"]);
      expect((await migrate(client, schema, later)).applied).to.deep.equal([]);
      await client.query(`INSERT INTO "${schema}".later (id, note) VALUES (1, 'x')`);
      // This code's own list is now behind the database.
      expect(await newBroker().migrate().then(() => undefined, (e: unknown) => e)).to.be.instanceOf(SchemaVersionTooNew);
    } finally {
      await client.end();
    }
  });

  it("rolls a failing migration back whole, recording nothing, so the next boot tries it again", async () => {
    await newBroker().migrate();
    const broken: Migration[] = [...MIGRATIONS, { version: SCHEMA_VERSION + 1, name: "broken", sql: (s) => `CREATE TABLE ${s}.half (id integer); SELECT 1/0` }];
    const client = await adminClient();
    try {
      const error = await migrate(client, schema, broken).then(() => undefined, (e: unknown) => e);
      expect((error as Error).message).to.match(/division by zero/);
      const tables = await adminQuery("SELECT 1 FROM information_schema.tables WHERE table_schema = $1 AND table_name = 'half'", [schema]);
      expect(tables).to.deep.equal([]);
      expect((await migrate(client, schema, MIGRATIONS)).applied).to.deep.equal([]);
      // The lock was released: another session takes it at once.
      const free = await adminQuery<{ ok: boolean }>("SELECT pg_try_advisory_lock($1, hashtext($2)) AS ok", [MIGRATION_LOCK, schema]);
      expect(free[0]!.ok).to.equal(true);
    } finally {
      await client.end();
    }
  });

  it("refuses a schema of a newer version, naming both versions, and writes nothing", async () => {
    await newBroker().migrate();
    await adminQuery(`INSERT INTO "${schema}".schema_migrations (version, name) VALUES ($1, 'from the future')`, [SCHEMA_VERSION + 5]);
    const later = newBroker();
    later.declareQueue("q");
    const error = await later.migrate().then(() => undefined, (e: unknown) => e);
    expect(error).to.be.instanceOf(SchemaVersionTooNew);
    expect((error as SchemaVersionTooNew).code).to.equal("DRAMATS_ERR_SCHEMA_VERSION_TOO_NEW");
    expect((error as Error).message).to.include(`version ${SCHEMA_VERSION + 5}`).and.include(`up to ${SCHEMA_VERSION}`).and.include(schema);
    // Every operation fails the same way: none runs against a layout it does not know.
    const send = await later.enqueueRaw("q", "{}").then(() => undefined, (e: unknown) => e);
    expect(send).to.be.instanceOf(SchemaVersionTooNew);
  });

  it("refuses a schema name that is not a plain lower-case identifier", () => {
    expect(() => new PostgresBroker({ url: postgresUrl(), schema: 'x"; DROP TABLE y; --' })).to.throw(InvalidOptions, /schema/);
    expect(() => new PostgresBroker({ url: postgresUrl(), schema: "Upper" })).to.throw(InvalidOptions, /lower-case/);
  });

  it("fails with ConnectionFailed, the password masked, for a role the server refuses", async () => {
    const url = new URL(postgresUrl());
    url.username = "no_such_role_dramats";
    url.password = "sekrit-pass-4711";
    const broker = newBroker({ url: url.href });
    const error = await broker.migrate().then(() => undefined, (e: unknown) => e);
    expect(error).to.be.instanceOf(ConnectionFailed);
    expect((error as Error).message).to.include("***").and.not.include("sekrit-pass-4711");
    expect((error as Error).message).to.match(/refused the credentials|no_such_role/);
  });

  it("fails with ConnectionFailed when the URL's sslmode asks for TLS the server cannot give (pg's sslmode)", async () => {
    // The local server offers no TLS (or, in another setup, a certificate not issued for 127.0.0.1).
    const url = new URL(postgresUrl());
    url.searchParams.set("sslmode", "verify-full");
    const error = await newBroker({ url: url.href }).migrate().then(() => undefined, (e: unknown) => e);
    expect(error).to.be.instanceOf(ConnectionFailed);
    expect((error as Error).message).to.match(/SSL|certificate|altnames/i);
  });

  it("fails with ConnectionFailed when nothing listens at the URL's port", async () => {
    const broker = newBroker({ url: "postgres://postgres:pw-secret-99@127.0.0.1:1/test" });
    const error = await broker.migrate().then(() => undefined, (e: unknown) => e);
    expect(error).to.be.instanceOf(ConnectionFailed);
    expect((error as Error).message).to.include("127.0.0.1:1").and.not.include("pw-secret-99");
  });
});
