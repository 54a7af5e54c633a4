// Results, chords and rate limits on real Redis, with two worker processes started by the CLI.
import { expect } from "chai";
import { group, MessageDeadLettered, pipeline, ResultFailure } from "../lib/index.ts";
import { runCli, type CliRun } from "./cli/run-cli.ts";
import { createWorkflowApp } from "./fixtures/workflow-app.ts";
import { deleteNamespace, redisUrl, uniqueNamespace } from "./helpers/redis.ts";

describe("workflows on Redis across two worker processes", function () {
  this.timeout(60_000);
  let app: ReturnType<typeof createWorkflowApp>;
  let cli: CliRun;
  let namespace: string;

  before(async () => {
    const url = await redisUrl();
    namespace = uniqueNamespace("wf");
    app = createWorkflowApp(url, namespace);
    cli = runCli(["spec/fixtures/workflow-worker.ts", "--processes", "2", "--threads", "8"], {
      env: { REDIS_URL: url, WORKFLOW_NAMESPACE: namespace, DRAMATS_BROKER: "" },
    });
    // Both worker processes are consuming once two have booted.
    const booted = new Set<unknown>();
    await cli.waitFor((line) => {
      if (line.msg === "Worker started") booted.add(line.pid);
      return booted.size >= 2;
    }, 30_000);
  });

  after(async () => {
    cli?.signal("SIGTERM");
    await cli?.exited(20_000).catch(() => cli.destroy());
    if (app) {
      await app.close();
      // Results are Dramatiq's md5 keys, under no prefix: they expire on their own.
      for (const prefix of [namespace, `${namespace}-limits`]) await deleteNamespace(prefix);
    }
  });

  it("round-trips results and failures between processes", async () => {
    const message = await app.actors.square.send(7);
    expect(await message.result({ timeout: 10_000 })).to.equal(49);
    const bad = await app.actors.reject.send("not a number");
    const error = await bad.result({ timeout: 10_000 }).then(() => undefined, (e: unknown) => e);
    expect(error).to.be.instanceOf(ResultFailure);
    expect((error as ResultFailure).message).to.equal("actor raised TypeError: not a number");
    // Its dead letter, written by a worker process, fails the next join of the queue, once.
    const joined = await app.broker.join("default", { timeout: 10_000 }).then(() => undefined, (e: unknown) => e);
    expect(joined).to.be.instanceOf(MessageDeadLettered);
    expect(joined).to.deep.include({ messageId: bad.messageId, reason: "TypeError: not a number" });
  });

  it("passes values along a three-step pipeline", async () => {
    const { square } = app.actors;
    const run = await pipeline([square.message(2), square.step(), square.step()]).run();
    expect(await run.result({ timeout: 10_000 })).to.equal(256);
    expect(await run.results({ timeout: 10_000 })).to.deep.equal([4, 16, 256]);
  });

  it("returns a group's 50 results in order", async () => {
    const g = await group(Array.from({ length: 50 }, (_, i) => app.actors.square.message(i))).run();
    expect(await g.results({ timeout: 20_000 })).to.deep.equal(Array.from({ length: 50 }, (_, i) => i * i));
  });

  it("runs a chord's callback exactly once for a group of 100 spread over both processes", async () => {
    const before = (await app.read("members")).length;
    const g = group(Array.from({ length: 100 }, (_, i) => app.actors.square.message(1000 + i, 20)));
    await g.addCompletionCallback(app.actors.chordDone.message("fired")).run();
    const deadline = Date.now() + 20_000;
    while ((await app.read("chord")).length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    await app.broker.join("default", { timeout: 20_000 });
    await new Promise((r) => setTimeout(r, 300)); // a second, wrong firing would land by now
    const members = (await app.read<{ pid: number; n: number }>("members")).slice(before).filter((m) => m.n >= 1000);
    expect(members).to.have.length(100);
    expect(new Set(members.map((m) => m.pid)).size).to.equal(2);
    expect(await app.read("chord")).to.have.length(1);
  });

  it("never lets three calls hold a concurrent limiter of two", async () => {
    for (let i = 0; i < 24; i++) await app.actors.paired.send(i);
    await app.broker.join("default", { timeout: 30_000 });
    const spans = await app.read<{ pid: number; start: number; end: number }>("paired");
    expect(spans).to.have.length(24);
    expect(new Set(spans.map((s) => s.pid)).size).to.equal(2);
    for (const span of spans) {
      const overlapping = spans.filter((o) => o.start <= span.start && span.start < o.end).length;
      expect(overlapping).to.be.at.most(2);
    }
  });

  it("holds an actor to 10 runs per second across both processes", async () => {
    for (let i = 0; i < 30; i++) await app.actors.windowed.send(i);
    await app.broker.join("default", { timeout: 30_000 });
    const runs = (await app.read<{ at: number; pid: number }>("windowed")).map((r) => r.at).sort((a, b) => a - b);
    expect(runs).to.have.length(30);
    // In any one-second window, at most 10 runs (with 50 ms of tolerance for clock reads).
    for (let i = 10; i < runs.length; i++) expect(runs[i]! - runs[i - 10]!).to.be.at.least(950);
  });
});
