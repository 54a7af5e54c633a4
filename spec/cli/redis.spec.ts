// Acceptance: the real `dramats` command against the real Redis server.
import { expect } from "chai";
import { Message } from "../../lib/index.ts";
import { redisNamespace } from "./redis-namespace.ts";
import { cliSpec, isBootLine, recordsIn, until, type CliRun } from "./run-cli.ts";

const APP = "spec/fixtures/cli-redis-app.ts";
const FAST = ["--heartbeat-interval", "100", "--heartbeat-timeout", "1500", "--grace", "5000", "--cpu-threads", "1", "--no-metrics"];

/** What the app recorded, by event. */
function recorded(file: string) {
  const lines = readLines(file);
  const of = (event: string) => lines.filter((l) => l.event === event);
  const tags = (event: string) => of(event).map((l) => l.tag);
  return { lines, of, tags };
}

function readLines(file: string): { pid: number; event: string; tag: string }[] {
  return recordsIn(file).map(([pid, event, tag]) => ({ pid: Number(pid), event: event!, tag: tag! }));
}

describe("dramats CLI on Redis (acceptance)", function () {
  this.timeout(30_000);
  const spec = cliSpec("dramats-cli-redis-");
  const redis = redisNamespace("dramats-cli", ["cli-a", "cli-b"]);

  function start(args: string[], env: NodeJS.ProcessEnv = {}): CliRun {
    return spec.start([APP, ...FAST, ...args], { env: { REDIS_URL: redis.url, CLI_SPEC_NS: redis.ns, CLI_SPEC_OUT: spec.out, ...env } });
  }

  async function send(queueName: string, actorName: string, tags: string[]): Promise<void> {
    for (const tag of tags) await redis.broker.enqueue(new Message({ queueName, actorName, args: [tag] }));
  }

  const range = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix}${i}`);

  async function drained(queue: string, timeout = 15_000): Promise<void> {
    await redis.broker.join(queue, { timeout, failFast: false });
  }

  it("finishes all 20 in-flight actors on SIGTERM and exits 0, losing and repeating none", async () => {
    // Room for 20 at once in either process, however the two share the messages.
    const run = start(["--processes", "2", "--threads", "20"], { CLI_SPEC_SLOW_MS: "1500" });
    await run.waitFor(isBootLine);
    await send("cli-a", "slow", range("t", 20));
    await until(() => recorded(spec.out).of("start").length === 20, 15_000);
    expect(recorded(spec.out).of("done")).to.have.length(0);
    expect(await run.stop()).to.equal(0);
    const { tags } = recorded(spec.out);
    expect(tags("done").sort()).to.deep.equal(range("t", 20).sort());
    expect(tags("start")).to.have.length(20);
    expect(await redis.broker.depths("cli-a")).to.include({ ready: 0, inFlight: 0 });
  });

  it("exits 1 at once on a second SIGTERM, and the forced-out messages are redelivered", async () => {
    const first = start(["--processes", "1", "--threads", "4"], { CLI_SPEC_SLOW_MS: "60000" });
    await first.waitFor(isBootLine);
    await send("cli-a", "slow", range("f", 3));
    await until(() => recorded(spec.out).of("start").length === 3);
    first.signal("SIGTERM");
    await first.waitFor((l) => l.msg === "Stopping worker processes");
    await new Promise((r) => setTimeout(r, 400)); // Past the window in which repeats count as one.
    first.signal("SIGTERM");
    expect(await first.exited(5_000)).to.equal(1);
    expect(recorded(spec.out).of("done")).to.have.length(0);

    // A new fleet picks the messages up once the dead consumer's heartbeat expires.
    const second = start(["--processes", "1", "--threads", "4"], { CLI_SPEC_SLOW_MS: "10" });
    await until(() => recorded(spec.out).of("done").length === 3, 15_000);
    expect(recorded(spec.out).tags("done").sort()).to.deep.equal(range("f", 3));
    expect(await second.stop()).to.equal(0);
  });

  it("replaces a worker process killed with SIGKILL and still processes its messages", async () => {
    const run = start(["--processes", "2", "--threads", "4"], { CLI_SPEC_SLOW_MS: "200" });
    await run.waitFor(isBootLine);
    await until(() => run.lines.filter((l) => l.msg === "Worker started").length === 2);
    await send("cli-a", "slow", range("k", 40));
    await until(() => recorded(spec.out).of("done").length >= 4);
    const victim = recorded(spec.out).of("start").at(-1)!.pid;
    process.kill(victim, "SIGKILL");
    const died = await run.waitFor((l) => l.msg === "Worker process died; restarting it");
    expect(died.signal).to.equal("SIGKILL");
    await until(() => new Set(recorded(spec.out).tags("done")).size === 40, 20_000);
    // The replacement booted and served too.
    await until(() => run.lines.filter((l) => l.msg === "Worker started").length === 3);
    await drained("cli-a");
    expect(await run.stop()).to.equal(0);
  });

  it("stops a threaded actor stuck in a loop at its 500 ms limit, dead-letters it after its retry, and keeps serving", async () => {
    const run = start(["--processes", "1", "--threads", "4"]);
    await run.waitFor(isBootLine);
    await send("cli-a", "spin", ["forever"]);
    await send("cli-a", "slow", range("s", 10));
    await drained("cli-a");
    const dead = await redis.broker.deadLetters("cli-a");
    expect(dead).to.have.length(1);
    expect(dead[0]!.reason).to.match(/^TimeLimitExceeded: Time limit of 500 ms exceeded by spin/);
    expect(JSON.parse(dead[0]!.body).options.retries).to.equal(1);
    const { of, tags } = recorded(spec.out);
    expect(tags("done").sort()).to.deep.equal(range("s", 10).sort());
    // One process served everything: nothing was killed or replaced.
    expect(new Set(of("done").map((l) => l.pid)).size).to.equal(1);
    expect(run.lines.some((l) => l.msg === "Worker process died; restarting it")).to.equal(false);
    expect(await run.stop()).to.equal(0);
  });

  it("replaces a process whose event loop an async actor blocks, processes the others, and dead-letters the blocker", async () => {
    const run = start(["--processes", "1", "--threads", "4"]);
    await run.waitFor(isBootLine);
    await send("cli-a", "block", ["b"]);
    await send("cli-a", "slow", range("w", 10));
    const killed = () => run.lines.filter((l) => typeof l.msg === "string" && l.msg.startsWith("Worker process missed its heartbeats"));
    await until(() => new Set(recorded(spec.out).tags("done")).size === 10, 25_000);
    await drained("cli-a", 25_000);
    // The first kill turns on recording; the blocker, redelivered, blocks once more and is named;
    // its next delivery is dead-lettered instead of run.
    expect(killed()).to.have.length(2);
    expect(recorded(spec.out).tags("block-start")).to.deep.equal(["b", "b"]);
    const dead = await redis.broker.deadLetters("cli-a");
    expect(dead.map((d) => JSON.parse(d.body).actor_name)).to.deep.equal(["block"]);
    expect(dead[0]!.reason).to.match(/^EventLoopBlocked: Message .* \(block\) blocked the event loop of a worker process/);
    expect(await run.stop()).to.equal(0);
  });

  it("replaces a process after --max-messages 50, losing and repeating no message", async () => {
    const run = start(["--processes", "1", "--threads", "4", "--max-messages", "50"], { CLI_SPEC_SLOW_MS: "5" });
    await run.waitFor(isBootLine);
    await send("cli-a", "slow", range("m", 120));
    await until(() => recorded(spec.out).of("done").length === 120, 20_000);
    await drained("cli-a");
    const { of, tags } = recorded(spec.out);
    expect(tags("done").sort()).to.deep.equal(range("m", 120).sort());
    const byPid = new Map<number, number>();
    for (const line of of("done")) byPid.set(line.pid, (byPid.get(line.pid) ?? 0) + 1);
    expect(byPid.size).to.be.at.least(3);
    // Each retired process stopped right after its 50th message (plus those already running).
    const counts = [...byPid.values()];
    for (const count of counts.slice(0, -1)) expect(count).to.be.within(50, 53);
    expect(run.lines.filter((l) => l.msg === "Worker process retired").length).to.be.at.least(2);
    expect(await run.stop()).to.equal(0);
  });

  it("consumes only the queues given with --queues", async () => {
    const run = start(["--processes", "1", "--queues", "cli-b"]);
    await run.waitFor(isBootLine);
    await send("cli-a", "slow", range("a", 5));
    await send("cli-b", "other", range("b", 5));
    await drained("cli-b");
    await new Promise((r) => setTimeout(r, 300));
    expect(recorded(spec.out).tags("done-b").sort()).to.deep.equal(range("b", 5));
    expect(recorded(spec.out).tags("done")).to.deep.equal([]);
    expect((await redis.broker.depths("cli-a")).ready).to.equal(5);
    expect(await run.stop()).to.equal(0);
  });

  it("exits 2 with a readable message for a module path that does not exist", async () => {
    const cli = spec.start(["app/missing-actors", "--broker", redis.url]);
    expect(await cli.exited()).to.equal(2);
    expect(cli.stderr().trim()).to.match(/^dramats: Module not found: app\/missing-actors is neither a file under .* nor an installed package$/);
  });
});
