// The SQLite cancellation and rate-limiter backends' own behaviour (the shared semantics are in
// spec/contract/backends-sqlite.spec.ts): where they open, bad options, closing, pruning.
import Database from "better-sqlite3";
import { expect } from "chai";
import { SqliteBroker, SqliteCancellationBackend, SqliteRateLimiterBackend } from "../../brokers/sqlite/index.ts";
import { ConnectionClosed, InvalidOptions } from "../../lib/index.ts";
import { tempDatabase } from "../fixtures/sqlite-files.ts";

/** Rows of `table` in the file, read by a connection of the spec's own. */
function rows(path: string, table: string): number {
  const file = new Database(path, { readonly: true });
  try {
    return (file.prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n;
  } finally {
    file.close();
  }
}

describe("SqliteCancellationBackend and SqliteRateLimiterBackend", () => {
  let db: ReturnType<typeof tempDatabase>;

  beforeEach(() => {
    db = tempDatabase();
  });

  afterEach(() => {
    db.cleanup();
  });

  it("open the broker's file, a path or a sqlite:// URL, and refuse anything else with InvalidOptions", async () => {
    const broker = new SqliteBroker({ path: db.path, middleware: [] });
    const opened = [
      new SqliteCancellationBackend({ broker }),
      new SqliteRateLimiterBackend({ broker }),
      new SqliteCancellationBackend({ url: `sqlite://${db.path}` }),
      new SqliteRateLimiterBackend({ path: db.path }),
    ];
    try {
      for (const backend of opened) expect(backend.path).to.equal(broker.settings.path);
      for (const options of [{}, { path: db.path, url: `sqlite://${db.path}` }, { broker, path: db.path }, { path: ":memory:" }, { url: "redis://x" }]) {
        expect(() => new SqliteCancellationBackend(options), JSON.stringify(options)).to.throw(InvalidOptions);
        expect(() => new SqliteRateLimiterBackend(options), JSON.stringify(options)).to.throw(InvalidOptions);
      }
    } finally {
      for (const backend of opened) await backend.close();
      await broker.close();
    }
  });

  it("refuse work once closed with ConnectionClosed, end their subscriptions, and close twice harmlessly", async () => {
    const cancellations = new SqliteCancellationBackend({ path: db.path });
    const limits = new SqliteRateLimiterBackend({ path: db.path });
    const heard: string[] = [];
    await cancellations.subscribe((id) => heard.push(id));
    await cancellations.close();
    await cancellations.close();
    await limits.close();
    await limits.close();
    expect(await cancellations.cancel("m", 1_000).then(() => undefined, (e: unknown) => e)).to.be.instanceOf(ConnectionClosed);
    expect(await limits.acquireSlot("k", "h", 1, 1_000).then(() => undefined, (e: unknown) => e)).to.be.instanceOf(ConnectionClosed);
  });

  it("delete expired rows: a key's own at its next use, every table's at a process's first write", async () => {
    const first = new SqliteRateLimiterBackend({ path: db.path });
    const firstCancellations = new SqliteCancellationBackend({ path: db.path });
    await firstCancellations.cancel("expiring", 100);
    await firstCancellations.cancel("kept", 60_000);
    await first.acquireSlot("slots", "dead", 5, 100);
    await first.hitWindow("window", 5, 100);
    await first.takeToken("bucket", 5, 50);
    await first.createBarrier("barrier", 2, 100);
    await first.arriveAtBarrier("barrier", "m1");
    await first.createBarrier("kept-barrier", 2, 60_000);
    await first.close();
    await firstCancellations.close();
    await new Promise((resolve) => setTimeout(resolve, 200));

    // Another process's first operations sweep what expired meanwhile.
    const second = new SqliteRateLimiterBackend({ path: db.path });
    const secondCancellations = new SqliteCancellationBackend({ path: db.path });
    try {
      expect(await second.acquireSlot("another", "h", 1, 60_000)).to.equal(true);
      expect(rows(db.path, "dramats_limit_slots")).to.equal(1);
      expect(rows(db.path, "dramats_limit_hits")).to.equal(0);
      expect(rows(db.path, "dramats_limit_buckets")).to.equal(0);
      expect(rows(db.path, "dramats_barriers")).to.equal(1);
      expect(rows(db.path, "dramats_barrier_members")).to.equal(0);
      await secondCancellations.cancel("new", 60_000);
      expect(rows(db.path, "dramats_cancellations")).to.equal(2);
      // Within the sweep interval, a key's own expired rows go at its next use.
      await second.acquireSlot("another", "short", 5, 50);
      await second.hitWindow("another-window", 5, 50);
      await new Promise((resolve) => setTimeout(resolve, 100));
      await second.acquireSlot("another", "h2", 5, 60_000);
      await second.hitWindow("another-window", 5, 50);
      expect(rows(db.path, "dramats_limit_slots")).to.equal(2);
      expect(rows(db.path, "dramats_limit_hits")).to.equal(1);
    } finally {
      await second.close();
      await secondCancellations.close();
    }
  });
});
