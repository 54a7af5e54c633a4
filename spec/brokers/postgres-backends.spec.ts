// The PostgreSQL cancellation and rate-limiter backends' own behaviour (the shared semantics are
// in spec/contract/backends-postgres.spec.ts): options, tables created once by racing instances,
// errors, closing, pruning, and the LISTEN session surviving the server dropping it.
import { expect } from "chai";
import { randomUUID } from "node:crypto";
import pg from "pg";
import {
  BACKEND_MIGRATION,
  ensureBackendTables,
  MAX_MESSAGE_ID_BYTES,
  PostgresCancellationBackend,
  PostgresRateLimiterBackend,
} from "../../brokers/postgres/backends.ts";
import { ConnectionClosed, ConnectionFailed, InvalidOptions } from "../../lib/index.ts";
import { waitFor } from "../fixtures/sqlite-files.ts";
import { adminClient, adminQuery, dropSchema, postgresUrl, uniqueSchema, urlWithSchema } from "../helpers/postgres.ts";

const failure = (promise: Promise<unknown>) => promise.then(() => undefined, (error: unknown) => error);

describe("PostgresCancellationBackend and PostgresRateLimiterBackend", function () {
  this.timeout(20_000);
  let schema: string;
  const closers: (() => Promise<void>)[] = [];
  /** `closeable` closed after the test, in reverse order. */
  const later = <T extends { close(): Promise<void> } | { end(): Promise<void> }>(closeable: T): T => {
    closers.push(() => ("close" in closeable ? closeable.close() : closeable.end()));
    return closeable;
  };
  /** Rows of `table` in the spec's schema. */
  const count = async (table: string, where = "true") =>
    Number((await adminQuery<{ n: string }>(`SELECT count(*) AS n FROM "${schema}".${table} WHERE ${where}`))[0]!.n);

  beforeEach(() => {
    schema = uniqueSchema("backends");
  });

  afterEach(async () => {
    for (const close of closers.splice(0).reverse()) await close();
    await dropSchema(schema);
  });

  it("take a URL (with ?schema=) or a pool with a schema, and refuse anything else with InvalidOptions", async () => {
    // One connection: the LISTEN session has a connection of its own and leaves it to the statements.
    const pool = later(new pg.Pool({ connectionString: postgresUrl(), max: 1 }));
    pool.on("error", () => {});
    const fromUrl = later(new PostgresRateLimiterBackend({ url: urlWithSchema(schema) }));
    const fromPool = later(new PostgresCancellationBackend({ pool, schema }));
    expect([fromUrl.schema, fromPool.schema]).to.deep.equal([schema, schema]);
    expect(later(new PostgresRateLimiterBackend({ url: postgresUrl() })).schema).to.equal("dramats");
    expect(await fromUrl.acquireSlot("k", "h", 1, 60_000)).to.equal(true);
    const heard: string[] = [];
    await fromPool.subscribe((id) => heard.push(id));
    await fromPool.cancel("m", 60_000);
    await waitFor(() => heard.includes("m"), 5_000, "the cancellation, on a pool of one connection");
    expect(await count("limit_slots")).to.equal(1);
    expect(await count("cancellations")).to.equal(1);
    const bad = [{}, { url: postgresUrl(), pool }, { url: "redis://127.0.0.1" }, { url: "not a url" }, { pool, schema: "Bad-Name" }, { url: urlWithSchema("x;drop") }];
    for (const options of bad) {
      expect(() => new PostgresCancellationBackend(options), JSON.stringify({ ...options, pool: undefined })).to.throw(InvalidOptions);
      expect(() => new PostgresRateLimiterBackend(options), JSON.stringify({ ...options, pool: undefined })).to.throw(InvalidOptions);
    }
  });

  it("create their tables once when many instances and processes boot at once, leaving schema_migrations to the broker", async () => {
    const url = urlWithSchema(schema);
    const limits = Array.from({ length: 6 }, () => later(new PostgresRateLimiterBackend({ url })));
    const cancellations = Array.from({ length: 4 }, () => later(new PostgresCancellationBackend({ url })));
    const clients = await Promise.all(Array.from({ length: 3 }, () => adminClient()));
    try {
      await Promise.all([
        ...limits.map((backend, i) => backend.hitWindow("w", 100, 60_000).then((ok) => expect(ok, `instance ${i}`).to.equal(true))),
        ...cancellations.map((backend, i) => backend.cancel(`m${i}`, 60_000)),
        ...clients.map((client) => ensureBackendTables(client, schema)),
      ]);
      // Run again, and the migration's statements on their own: nothing changes, nothing fails.
      await ensureBackendTables(clients[0]!, schema);
      await clients[1]!.query(BACKEND_MIGRATION.sql(`"${schema}"`));
    } finally {
      for (const client of clients) await client.end();
    }
    expect(BACKEND_MIGRATION.version).to.equal(2);
    expect(await count("limit_hits")).to.equal(6);
    expect(await count("cancellations")).to.equal(4);
    expect((await adminQuery("SELECT to_regclass($1) AS t", [`"${schema}".schema_migrations`]))[0]!.t).to.equal(null);
  });

  it("take limits that are not whole numbers, as RateLimiter allows (2 holders are fewer than 2.5)", async () => {
    const limits = later(new PostgresRateLimiterBackend({ url: urlWithSchema(schema) }));
    const slots = [];
    for (const holder of ["h1", "h2", "h3", "h4"]) slots.push(await limits.acquireSlot("slots", holder, 2.5, 60_000.5));
    expect(slots).to.deep.equal([true, true, true, false]);
    const hits = [];
    for (let i = 0; i < 3; i++) hits.push(await limits.hitWindow("window", 1.5, 60_000));
    expect(hits).to.deep.equal([true, true, false]);
    const tokens = [];
    for (let i = 0; i < 3; i++) tokens.push(await limits.takeToken("bucket", 1.5, 600_000));
    expect(tokens).to.deep.equal([true, false, false]);
  });

  it("refuse a message id too long for a key with RangeError, and keep hearing after a listener threw", async () => {
    const url = urlWithSchema(schema);
    const a = later(new PostgresCancellationBackend({ url }));
    const b = later(new PostgresCancellationBackend({ url }));
    expect(await failure(a.cancel("x".repeat(MAX_MESSAGE_ID_BYTES + 1), 60_000))).to.be.instanceOf(RangeError);
    await a.cancel("é".repeat(MAX_MESSAGE_ID_BYTES / 2), 60_000);
    const heard: string[] = [];
    await b.subscribe(() => {
      throw new Error("a faulty listener");
    });
    await b.subscribe((id) => heard.push(id));
    for (const id of ["first", "second"]) await a.cancel(id, 60_000);
    await waitFor(() => heard.length === 2, 5_000, "both cancellations, past the faulty listener");
    expect(heard).to.deep.equal(["first", "second"]);
    expect(b.listening).to.equal(true);
  });

  it("fail with ConnectionFailed when the server cannot be reached, the password masked", async () => {
    const url = `postgres://dramats:pg-secret-${randomUUID()}@127.0.0.1:1/test`;
    const password = new URL(url).password;
    const cancellations = later(new PostgresCancellationBackend({ url, connectTimeout: 2_000 }));
    const limits = later(new PostgresRateLimiterBackend({ url, connectTimeout: 2_000 }));
    const errors = [
      await failure(cancellations.cancel("m", 1_000)),
      await failure(cancellations.subscribe(() => {})),
      await failure(cancellations.list()),
      await failure(limits.takeToken("k", 1, 1_000)),
    ];
    for (const error of errors) {
      expect(error).to.be.instanceOf(ConnectionFailed);
      expect((error as Error).message).to.include("127.0.0.1:1").and.not.include(password);
    }
  });

  it("refuse work once closed with ConnectionClosed, end their subscriptions and LISTEN session, and close twice harmlessly", async () => {
    const name = `dramats_listen_${randomUUID().slice(0, 8)}`;
    const url = `${urlWithSchema(schema)}&application_name=${name}`;
    const cancellations = new PostgresCancellationBackend({ url });
    const limits = new PostgresRateLimiterBackend({ url });
    await cancellations.subscribe(() => {});
    expect(cancellations.listening).to.equal(true);
    const listening = () => adminQuery("SELECT pid FROM pg_stat_activity WHERE application_name = $1 AND query LIKE 'LISTEN%' OR (application_name = $1 AND query = 'SELECT 1')", [name]);
    expect(await listening()).to.have.length(1);
    await cancellations.close();
    await cancellations.close();
    await limits.close();
    await limits.close();
    expect(cancellations.listening).to.equal(false);
    await waitFor(async () => (await adminQuery("SELECT pid FROM pg_stat_activity WHERE application_name = $1", [name])).length === 0, 5_000, "every connection to end");
    expect(await failure(cancellations.cancel("m", 1_000))).to.be.instanceOf(ConnectionClosed);
    expect(await failure(cancellations.subscribe(() => {}))).to.be.instanceOf(ConnectionClosed);
    expect(await failure(limits.acquireSlot("k", "h", 1, 1_000))).to.be.instanceOf(ConnectionClosed);
  });

  it("delete expired rows: the first operation of an instance sweeps every table", async () => {
    const url = urlWithSchema(schema);
    const a = later(new PostgresRateLimiterBackend({ url }));
    const c = later(new PostgresCancellationBackend({ url }));
    await a.acquireSlot("slots", "h", 1, 50);
    await a.hitWindow("window", 5, 50);
    await a.takeToken("bucket", 1, 25);
    await a.createBarrier("barrier", 2, 50);
    await a.arriveAtBarrier("barrier", "m1");
    await c.cancel("short", 50);
    await c.cancel("long", 60_000);
    const tables = ["limit_slots", "limit_slot_keys", "limit_hits", "limit_window_keys", "limit_buckets", "barriers", "barrier_members"];
    for (const table of tables) expect(await count(table), table).to.equal(1);
    await waitFor(async () => (await c.list()).size === 1, 5_000, "the short cancellation to expire");
    // A release calls no function and does not sweep; the first call of a new instance does.
    await later(new PostgresRateLimiterBackend({ url })).releaseSlot("other", "h");
    expect(await count("limit_slots")).to.equal(1);
    await later(new PostgresRateLimiterBackend({ url })).hitWindow("fresh", 1, 60_000);
    for (const table of tables) expect(await count(table, "key <> 'fresh'"), table).to.equal(0);
    expect(await count("cancellations")).to.equal(1);
    // The cancellation backend sweeps at its first cancellation too.
    await c.cancel("short-again", 50);
    await waitFor(async () => !(await c.list()).has("short-again"), 5_000, "the second short cancellation to expire");
    await later(new PostgresCancellationBackend({ url })).cancel("another", 60_000);
    expect((await adminQuery<{ message_id: string }>(`SELECT message_id FROM "${schema}".cancellations ORDER BY message_id`)).map((r) => r.message_id)).to.deep.equal(["another", "long"]);
  });
});
