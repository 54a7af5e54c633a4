// An app on one store alone (no Redis anywhere): chords, cancellation and rate limits with real
// Workers, on SQLite (every backend in the broker's file) and on PostgreSQL (every backend in the
// broker's schema). Each "process" is a broker of its own with backends of its own (their own
// connections, pools and LISTEN sessions), as separate processes would have.
import { expect } from "chai";
import { PostgresBroker, PostgresCancellationBackend, PostgresRateLimiterBackend } from "../brokers/postgres/index.ts";
import { SqliteBroker, SqliteCancellationBackend, SqliteRateLimiterBackend } from "../brokers/sqlite/index.ts";
import type { CancellationBackend } from "../lib/cancellation/backend.ts";
import {
  actor,
  Cancellation,
  defaultMiddleware,
  group,
  GroupCallbacks,
  MessageCancelled,
  RateLimit,
  Results,
  StoreResultBackend,
  Worker,
  type ActorContext,
  type Broker,
} from "../lib/index.ts";
import type { RateLimiterBackend } from "../lib/rate-limits/backend.ts";
import { tempDatabase, waitFor } from "./fixtures/sqlite-files.ts";
import { dropSchema, uniqueSchema, urlWithSchema } from "./helpers/postgres.ts";

interface Ledger {
  members: { n: number; process: number }[];
  chordDone: string[];
  ran: string[];
  aborted: unknown[];
  started: string[];
  limited: number[];
}

type Closable = { close(): Promise<void> };

/** The one store of an app: a process's broker and backends on it, and its removal. */
interface Store {
  broker(): Broker;
  limits(broker: Broker): RateLimiterBackend & Closable;
  cancellations(broker: Broker): CancellationBackend;
  cleanup(): Promise<void>;
}

const STORES: [string, () => Store][] = [
  [
    "a SQLite-only app (every backend in the broker's file)",
    () => {
      const db = tempDatabase();
      return {
        broker: () => new SqliteBroker({ path: db.path, middleware: defaultMiddleware() }),
        limits: (broker) => new SqliteRateLimiterBackend({ broker: broker as SqliteBroker }),
        cancellations: (broker) => new SqliteCancellationBackend({ broker: broker as SqliteBroker }),
        cleanup: async () => db.cleanup(),
      };
    },
  ],
  [
    "a PostgreSQL-only app (every backend in the broker's schema)",
    () => {
      const schema = uniqueSchema("backends_app");
      const url = urlWithSchema(schema);
      return {
        broker: () => new PostgresBroker({ url, middleware: defaultMiddleware() }),
        limits: () => new PostgresRateLimiterBackend({ url }),
        cancellations: () => new PostgresCancellationBackend({ url }),
        cleanup: () => dropSchema(schema),
      };
    },
  ],
];

/** A process of the app: its broker, backends and actors on the shared store. */
function openProcess(store: Store, id: number, ledger: Ledger) {
  const broker = store.broker();
  const limits = store.limits(broker);
  const cancellations = store.cancellations(broker);
  broker.addMiddleware(new GroupCallbacks({ backend: limits }));
  broker.addMiddleware(new RateLimit({ backend: limits }));
  broker.addMiddleware(new Cancellation({ backend: cancellations }));
  broker.addMiddleware(new Results({ backend: new StoreResultBackend({ store: broker.store! }) }));
  const member = actor(async function chordMember(n: number) {
    await new Promise((resolve) => setTimeout(resolve, 20));
    ledger.members.push({ n, process: id });
    return n * 10;
  }, { broker, storeResults: true });
  const done = actor(function chordDone(tag: string) {
    ledger.chordDone.push(tag);
  }, { broker });
  const cancellable = actor(function cancellable(tag: string) {
    ledger.ran.push(tag);
  }, { broker });
  const long = actor(function longRunning(this: ActorContext, tag: string) {
    ledger.started.push(tag);
    return new Promise<void>((_, reject) => this.signal.addEventListener("abort", () => {
      ledger.aborted.push(this.signal.reason);
      reject(this.signal.reason);
    }));
  }, { broker, maxRetries: 3 });
  const limited = actor(function limitedCall() {
    ledger.limited.push(Date.now());
  }, { broker, rateLimit: { limit: 3, window: 300 }, maxRetries: 0 });
  // The broker closes its middleware, which may close these backends first: their close is idempotent.
  const close = async () => {
    await broker.close();
    await cancellations.close();
    await limits.close();
  };
  return { broker, close, member, done, cancellable, long, limited };
}

for (const [name, open] of STORES) {
  describe(name, function () {
    this.timeout(30_000);
    let store: Store;
    let ledger: Ledger;
    let app: ReturnType<typeof openProcess>;
    let workers: { process: ReturnType<typeof openProcess>; worker: Worker }[];

    beforeEach(async () => {
      store = open();
      ledger = { members: [], chordDone: [], ran: [], aborted: [], started: [], limited: [] };
      app = openProcess(store, 0, ledger);
      workers = [];
      for (const id of [1, 2]) {
        const process = openProcess(store, id, ledger);
        const worker = new Worker(process.broker, { concurrency: 4, fetchTimeout: 100 });
        await worker.start();
        workers.push({ process, worker });
      }
    });

    afterEach(async () => {
      for (const { process, worker } of workers) {
        await worker.stop({ timeout: 2_000 });
        await process.close();
      }
      await app.close();
      await store.cleanup();
    });

    it("runs a chord's callback once, after members run by two worker processes, with their results", async () => {
      const parties = 12;
      const g = group(Array.from({ length: parties }, (_, n) => app.member.message(n)), { broker: app.broker });
      await g.addCompletionCallback(app.done.message("fired")).run();
      expect(await g.results({ timeout: 10_000 })).to.deep.equal(Array.from({ length: parties }, (_, n) => n * 10));
      await waitFor(() => ledger.chordDone.length > 0, 10_000, "the chord's callback");
      await app.broker.join("default", { timeout: 10_000 });
      expect(ledger.chordDone).to.deep.equal(["fired"]);
      expect(new Set(ledger.members.map((m) => m.n)).size).to.equal(parties);
      expect(new Set(ledger.members.map((m) => m.process)).size, "both worker processes ran members").to.equal(2);
    });

    it("cancels from the app a queued message and one running in a worker process", async () => {
      const running = await app.long.send("long");
      await waitFor(() => ledger.started.length === 1, 10_000, "the long message to start");
      await running.cancel();
      await waitFor(() => ledger.aborted.length === 1, 5_000, "the running message to be aborted");
      expect(ledger.aborted[0]).to.be.instanceOf(MessageCancelled);

      const delayed = await app.cancellable.sendWithOptions({ args: ["cancelled"], delay: 500 });
      await delayed.cancel();
      await app.cancellable.send("kept");
      await waitFor(() => ledger.ran.includes("kept"), 10_000, "the kept message to run");
      await app.broker.join("default", { timeout: 10_000 });
      expect(ledger.ran).to.deep.equal(["kept"]);
      expect(ledger.started, "a cancelled message is not retried").to.deep.equal(["long"]);
      expect((await app.broker.depths("default")).dead).to.equal(0);
    });

    it("holds an actor to its rate limit across two worker processes", async () => {
      const total = 12;
      await Promise.all(Array.from({ length: total }, () => app.limited.send()));
      await waitFor(() => ledger.limited.length === total, 15_000, "every limited message to run");
      await app.broker.join("default", { timeout: 10_000 });
      expect((await app.broker.depths("default")).dead).to.equal(0);
      const runs = [...ledger.limited].sort((a, b) => a - b);
      // Any 4 runs span at least the window (less a little for timer jitter between processes).
      for (let i = 3; i < runs.length; i++) expect(runs[i]! - runs[i - 3]!, `runs ${i - 3} to ${i}`).to.be.at.least(290);
    });
  });
}
