import { expect } from "chai";
import { threadId } from "node:worker_threads";
import { TimeLimitExceeded, Worker } from "../../lib/index.ts";
import { ThreadPool } from "../../lib/threads/pool.ts";
import { Threads } from "../../middleware/threads.ts";
import * as fixture from "../fixtures/threaded-actors.ts";

const QUEUE = "threads-spec";
const MODULES = [new URL("../fixtures/threaded-actors.ts", import.meta.url).href];

describe("Threaded actors", function () {
  this.timeout(20_000);
  const { broker } = fixture;
  const threads = broker.middleware.find((m): m is Threads => m instanceof Threads)!;
  let pool: ThreadPool;
  let worker: Worker;

  before(async () => {
    pool = new ThreadPool({ modules: MODULES, size: 2 });
    await pool.warmUp();
    threads.usePool(pool);
  });
  after(async () => {
    threads.usePool(undefined);
    await pool.destroy();
  });
  beforeEach(async () => {
    worker = new Worker(broker, { concurrency: 4, fetchTimeout: 50 });
    await worker.start();
  });
  afterEach(async () => {
    await worker.stop({ timeout: 1_000 });
    await broker.flush(QUEUE);
  });

  async function resultsOf(): Promise<void> {
    await broker.join(QUEUE, { failFast: false, timeout: 15_000 });
  }

  it("runs a threaded actor on a pool thread, with its message as context", async () => {
    const message = fixture.whereAmI.message("hello");
    const result = (await pool.run({ actorName: "whereAmI", args: ["hello"], message: message.asData() })) as Record<string, unknown>;
    expect(result).to.deep.equal({ tag: "hello", threadId: result.threadId, messageId: message.messageId });
    expect(result.threadId).to.not.equal(threadId);
  });

  it("processes threaded messages through the worker, off the main thread, and acknowledges them", async () => {
    fixture.runsHere.length = 0;
    for (let i = 0; i < 6; i++) await fixture.fib.send(20);
    await fixture.whereAmI.send("pooled");
    await resultsOf();
    expect(await broker.depths(QUEUE)).to.include({ ready: 0, inFlight: 0, dead: 0 });
    expect(fixture.runsHere).to.deep.equal([]);
  });

  it("terminates a thread that overruns its time limit, retries per options, then dead-letters", async () => {
    const before = pool.completed;
    await fixture.spin.send();
    await fixture.fib.send(15);
    await resultsOf();
    const dead = await broker.deadLetters(QUEUE);
    expect(dead).to.have.length(1);
    expect(dead[0]!.reason).to.match(/^TimeLimitExceeded: /);
    expect(JSON.parse(dead[0]!.body).options.retries).to.equal(1);
    // maxRetries 1: two runs of spin, both cut off; the pool kept serving fib meanwhile.
    expect(pool.completed - before).to.be.at.least(1);
    expect(pool.threads).to.equal(2);
  });

  it("starts a threaded message's time limit only once a pool thread is free for it", async () => {
    await pool.warmUp(); // Threads terminated by earlier specs must not be booting meanwhile.
    // Two threads, five 300 ms runs, a 500 ms limit: the last ones wait ~600 ms for a thread.
    for (let i = 0; i < 5; i++) await fixture.busyFor.send(300);
    await resultsOf();
    expect(await broker.deadLetters(QUEUE)).to.deep.equal([]);
    expect(await broker.depths(QUEUE)).to.include({ ready: 0, inFlight: 0, dead: 0 });
  });

  it("keeps an error's class for the actor's `throws`, so it is dead-lettered without retries", async () => {
    await fixture.declined.send(42);
    await resultsOf();
    const dead = await broker.deadLetters(QUEUE);
    expect(dead).to.have.length(1);
    expect(dead[0]!.reason).to.equal("PaymentDeclined: Declined: 42");
    expect(JSON.parse(dead[0]!.body).options.retries ?? 0).to.equal(0);
  });

  it("keeps dramats errors' class and fields across the thread boundary", async () => {
    const message = fixture.retryLater.message();
    const error = await pool.run({ actorName: "retryLater", args: [], message: message.asData() }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).to.be.instanceOf(Error);
    expect((error as Error).name).to.equal("Retry");
    expect((error as { delay?: number }).delay).to.equal(5);
    expect((error as { code?: string }).code).to.equal("DRAMATS_ERR_RETRY");
  });

  it("rejects with the abort reason when the run's signal aborts", async () => {
    const controller = new AbortController();
    const reason = new TimeLimitExceeded("stop");
    setTimeout(() => controller.abort(reason), 100);
    const error = await pool.run({ actorName: "spin", args: [], message: fixture.spin.message().asData() }, { signal: controller.signal }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).to.equal(reason);
  });

  it("reports an unknown actor name as ActorNotFound", async () => {
    const error = await pool.run({ actorName: "nope", args: [], message: fixture.fib.message(1).asData() }).then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(error?.name).to.equal("ActorNotFound");
  });

  it("starts its threads when the process runs with heap-size flags (which threads refuse)", async () => {
    const sized = new ThreadPool({ modules: MODULES, size: 1, execArgv: [...process.execArgv, "--max-semi-space-size=2", "--max_old_space_size=512", "--v8-pool-size=1"] });
    try {
      await sized.warmUp();
      const result = await sized.run({ actorName: "fib", args: [10], message: fixture.fib.message(10).asData() });
      expect(result).to.equal(55);
    } finally {
      await sized.destroy();
    }
  });

  it("runs threaded actors inline when no pool is set", async () => {
    fixture.runsHere.length = 0;
    threads.usePool(undefined);
    try {
      await fixture.whereAmI.send("inline");
      await resultsOf();
      expect(fixture.runsHere).to.deep.equal(["inline"]);
    } finally {
      threads.usePool(pool);
    }
  });
});
