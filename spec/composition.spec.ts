import { expect } from "chai";
import { StubBroker } from "../brokers/stub.ts";
import {
  actor,
  DramatsError,
  group,
  GroupCallbacks,
  pipeline,
  Pipelines,
  Results,
  Retries,
  StubRateLimiterBackend,
  StubResultBackend,
  Worker,
  type Message,
} from "../lib/index.ts";

async function world(options: { callbacks?: boolean; concurrency?: number } = {}) {
  const middleware = [new Pipelines(), new Retries({ maxRetries: 0 }), new Results({ backend: new StubResultBackend(), storeResults: true })];
  if (options.callbacks !== false) middleware.push(new GroupCallbacks({ backend: new StubRateLimiterBackend() }) as never);
  const broker = new StubBroker({ middleware });
  const worker = new Worker(broker, { fetchTimeout: 50, concurrency: options.concurrency ?? 8 });
  await worker.start();
  return { broker, worker, teardown: async () => { await worker.stop(); await broker.close(); } };
}

describe("pipeline()", () => {
  it("passes each step's result to the next and returns the last one", async () => {
    const w = await world();
    try {
      const fetchPage = actor(function fetchPage(url: string) { return `<html>${url}</html>`; }, { broker: w.broker });
      const measure = actor(function measure(html: string) { return html.length; }, { broker: w.broker });
      const double = actor(function doubleIt(n: number) { return n * 2; }, { broker: w.broker });
      const run = await pipeline([fetchPage.message("a.io"), measure.step(), double.step()]).run();
      const last: number = await run.result({ timeout: 2_000 });
      expect(last).to.equal(34);
      expect(await run.results({ timeout: 2_000 })).to.deep.equal(["<html>a.io</html>", 17, 34]);
      expect(await run.completedCount()).to.equal(3);
    } finally {
      await w.teardown();
    }
  });

  it("flattens nested pipelines and honours pipeIgnore", async () => {
    const w = await world();
    try {
      const calls: unknown[][] = [];
      const rec = actor(function recStep(...args: number[]) { calls.push(args); return args.length; }, { broker: w.broker });
      const inner = pipeline([rec.message(1), rec.message()]);
      const ignoring = rec.messageWithOptions({ args: [7], pipeIgnore: true });
      const outer = pipeline([inner, ignoring, rec.message()]);
      expect(outer.messages).to.have.length(4);
      await outer.run();
      expect(await outer.result({ timeout: 2_000 })).to.equal(1);
      expect(calls).to.deep.equal([[1], [1], [7], [1]]);
    } finally {
      await w.teardown();
    }
  });

  it("stops at a failing step", async () => {
    const w = await world();
    try {
      const ran: string[] = [];
      const ok = actor(function okStep() { ran.push("ok"); return 1; }, { broker: w.broker });
      const boom = actor(function boomStep(_n: number) { ran.push("boom"); throw new Error("stop"); }, { broker: w.broker });
      const after = actor(function afterStep(_n: unknown) { ran.push("after"); }, { broker: w.broker });
      const run = await pipeline([ok.message(), boom.step(), after.step()]).run();
      await w.broker.join("default", { failFast: false });
      expect(ran).to.deep.equal(["ok", "boom"]);
      expect(await run.completedCount()).to.equal(2); // the failure is a finished step
    } finally {
      await w.teardown();
    }
  });
});

describe("group()", () => {
  it("runs members in parallel and returns 50 results in order", async () => {
    const w = await world({ concurrency: 16 });
    try {
      const square = actor(async function square(n: number) {
        await new Promise((r) => setTimeout(r, (n * 7) % 11));
        return n * n;
      }, { broker: w.broker });
      const g = await group(Array.from({ length: 50 }, (_, i) => square.message(i))).run();
      expect(await g.results({ timeout: 5_000 })).to.deep.equal(Array.from({ length: 50 }, (_, i) => i * i));
      expect(await g.completedCount()).to.equal(50);
    } finally {
      await w.teardown();
    }
  });

  it("composes groups of pipelines and nested groups", async () => {
    const w = await world();
    try {
      const inc = actor(function inc(n: number) { return n + 1; }, { broker: w.broker });
      const g = await group([pipeline([inc.message(1), inc.step(), inc.step()]), group([inc.message(10), inc.message(20)]), inc.message(0)]).run();
      expect(await g.results({ timeout: 2_000 })).to.deep.equal([4, [11, 21], 1]);
    } finally {
      await w.teardown();
    }
  });

  it("runs a completion callback exactly once after every member succeeded (a chord)", async () => {
    const w = await world({ concurrency: 16 });
    try {
      const done: number[] = [];
      const fired: string[] = [];
      const member = actor(async function chordMember(n: number) { done.push(n); }, { broker: w.broker });
      const finished = actor(function chordDone(tag: string) { fired.push(tag); }, { broker: w.broker });
      const members: Message<any, any>[] = Array.from({ length: 100 }, (_, i) => member.message(i));
      members.push(pipeline([member.message(1000), member.message(1001)]) as never);
      await group(members as never).addCompletionCallback(finished.message("all done")).run();
      await w.worker.join();
      expect(done).to.have.length(102);
      expect(fired).to.deep.equal(["all done"]);
    } finally {
      await w.teardown();
    }
  });

  it("refuses completion callbacks without the GroupCallbacks middleware", async () => {
    const w = await world({ callbacks: false });
    try {
      const a = actor(function noChord() {}, { broker: w.broker });
      const error = await group([a.message()]).addCompletionCallback(a.message()).run().then(() => undefined, (e: unknown) => e);
      expect(error).to.be.instanceOf(DramatsError);
      expect((error as Error).message).to.contain("GroupCallbacks");
    } finally {
      await w.teardown();
    }
  });
});
