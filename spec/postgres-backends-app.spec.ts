// Workers with the PostgreSQL backends: chords (GroupCallbacks' barriers), cancellation (of a
// queued and of a running message, heard over LISTEN) and rate limits. Each "process" has a
// broker of its own and backends of its own (their own pools and LISTEN sessions) on one schema,
// as separate processes would. The queues are in a SQLite file (the PostgresBroker, on branch
// pg-broker, takes its place when the branches merge, for an app on PostgreSQL alone).
import { expect } from "chai";
import { PostgresCancellationBackend, PostgresRateLimiterBackend } from "../brokers/postgres/backends.ts";
import { SqliteBroker } from "../brokers/sqlite/index.ts";
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
} from "../lib/index.ts";
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

/** A process of the app: its broker on the shared file, its backends on the schema, its actors. */
function openProcess(path: string, url: string, id: number, ledger: Ledger) {
  const broker = new SqliteBroker({ path, middleware: defaultMiddleware() });
  const limits = new PostgresRateLimiterBackend({ url });
  const cancellations = new PostgresCancellationBackend({ url });
  broker.addMiddleware(new GroupCallbacks({ backend: limits }));
  broker.addMiddleware(new RateLimit({ backend: limits }));
  broker.addMiddleware(new Cancellation({ backend: cancellations }));
  broker.addMiddleware(new Results({ backend: new StoreResultBackend({ store: broker.store }) }));
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
  const close = async () => {
    await broker.close();
    await cancellations.close();
    await limits.close();
  };
  return { broker, close, member, done, cancellable, long, limited };
}

describe("workers with the PostgreSQL cancellation and rate-limiter backends", function () {
  this.timeout(30_000);
  let db: ReturnType<typeof tempDatabase>;
  let schema: string;
  let ledger: Ledger;
  let app: ReturnType<typeof openProcess>;
  let workers: { process: ReturnType<typeof openProcess>; worker: Worker }[];

  beforeEach(async () => {
    db = tempDatabase();
    schema = uniqueSchema("backends_app");
    ledger = { members: [], chordDone: [], ran: [], aborted: [], started: [], limited: [] };
    app = openProcess(db.path, urlWithSchema(schema), 0, ledger);
    workers = [];
    for (const id of [1, 2]) {
      const process = openProcess(db.path, urlWithSchema(schema), id, ledger);
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
    db.cleanup();
    await dropSchema(schema);
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
