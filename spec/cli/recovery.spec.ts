// Fast recovery under the supervisor: when a worker process dies (SIGKILL, or an uncaught
// exception), the supervisor gives what its consumers held back to the queues at once, through
// Broker.recoverConsumer, instead of leaving it to the broker's heartbeat or lease timeout
// (60 s in the app, SLOW_RECOVERY_MS): the only way these tests finish in time is the fast path.
import { expect } from "chai";
import { join } from "node:path";
import { Message } from "../../lib/message.ts";
import { SLOW_RECOVERY_MS } from "../fixtures/cli-recovery-app.ts";
import { onEachRecoveryBroker, type RecoveryBroker } from "./recovery-brokers.ts";
import { redisNamespace } from "./redis-namespace.ts";
import { cliSpec, recordsIn, until, type CliRun, type CliSpec } from "./run-cli.ts";

const APP = "spec/fixtures/cli-recovery-app.ts";
const FLAGS = ["--processes", "2", "--threads", "2", "--heartbeat-interval", "100", "--heartbeat-timeout", "1500", "--grace", "2000", "--cpu-threads", "1", "--no-metrics"];
const MESSAGES = 40;
/** Far below SLOW_RECOVERY_MS: passing needs the fast path. */
const PATIENCE = SLOW_RECOVERY_MS / 3;
const RECOVERED = "Gave the dead worker process's messages back to their queues";

interface Run {
  event: string;
  pid: number;
  n: number;
  at: number;
}

function runsIn(file: string): Run[] {
  return recordsIn(file).map(([event, pid, n, at]) => ({ event: event!, pid: Number(pid), n: Number(n), at: Number(at) }));
}

const allDone = (file: string) => new Set(runsIn(file).filter((r) => r.event === "done").map((r) => r.n)).size === MESSAGES;

/**
 * What the dead process `pid` left unfinished ran elsewhere, every message ran, and only those
 * it held ran twice. Returns the ms from `diedAt` until the last of its unfinished messages
 * started in another process.
 */
function checkRecovered(file: string, pid: number, diedAt: number): number {
  const runs = runsIn(file);
  const doneBy = (n: number, p: number) => runs.some((r) => r.event === "done" && r.n === n && r.pid === p);
  const unfinished = runs.filter((r) => r.event === "start" && r.pid === pid && !doneBy(r.n, pid)).map((r) => r.n);
  expect(unfinished, "the dead process was running something").to.not.be.empty;
  let last = 0;
  for (const n of unfinished) {
    const elsewhere = runs.find((r) => r.event === "start" && r.n === n && r.pid !== pid && r.at >= diedAt);
    expect(elsewhere, `message ${n} ran again in another process`).to.not.equal(undefined);
    last = Math.max(last, elsewhere!.at - diedAt);
  }
  const done = runs.filter((r) => r.event === "done").map((r) => r.n);
  expect(new Set(done).size).to.equal(MESSAGES);
  const heldByDead = new Set(runs.filter((r) => r.pid === pid).map((r) => r.n));
  const twice = [...new Set(done.filter((n, i) => done.indexOf(n) !== i))];
  for (const n of twice) expect(heldByDead.has(n), `message ${n} ran twice but the dead process never had it`).to.equal(true);
  return last;
}

function recoveryCases(name: string, spec: CliSpec, side: RecoveryBroker): void {
  async function startBusyFleet(env: Record<string, string> = {}): Promise<CliRun> {
    const run = spec.start([APP, ...FLAGS], { env: { CLI_SPEC_OUT: spec.out, RECOVERY_WORK_MS: "200", ...side.env(), ...env } });
    await until(() => run.count("Worker started") === 2, 20_000);
    const broker = side.broker();
    await broker.enqueueMany(Array.from({ length: MESSAGES }, (_, n) => new Message({ queueName: "recovery", actorName: "recovery_work", args: [n] })));
    return run;
  }

  async function finish(run: CliRun): Promise<void> {
    await side.broker().join("recovery", { timeout: 10_000, failFast: false });
    expect(await side.broker().depths("recovery")).to.include({ ready: 0, delayed: 0, inFlight: 0 });
    expect(await run.stop()).to.equal(0);
  }

  it(`gives a SIGKILLed worker process's messages to the other at once (${name})`, async () => {
    const run = await startBusyFleet();
    // Both processes busy; the victim is running something.
    await until(() => new Set(runsIn(spec.out).map((r) => r.pid)).size === 2, 15_000);
    const victim = runsIn(spec.out).at(-1)!.pid;
    process.kill(victim, "SIGKILL");
    const diedAt = Date.now();
    const recovered = await run.waitFor(RECOVERED, PATIENCE);
    expect(recovered.pid, "the dead process").to.equal(victim);
    expect(recovered.count).to.be.above(0);
    await until(() => allDone(spec.out), PATIENCE);
    const ms = checkRecovered(spec.out, victim, diedAt);
    console.log(`      ${name}: SIGKILL -> its last unfinished message started elsewhere after ${ms} ms (given back in ${String(recovered.ms)} ms)`);
    expect(ms).to.be.below(PATIENCE);
    await finish(run);
  });

  it(`gives back the messages of a worker process that an uncaught exception ends (${name})`, async () => {
    const marker = join(spec.dir, "crashed");
    const run = await startBusyFleet({ RECOVERY_CRASH_AT: "5", RECOVERY_CRASH_MARKER: marker });
    const died = await run.waitFor("Worker process died; restarting it", PATIENCE);
    const diedAt = Date.now();
    expect(died.code).to.equal(1);
    await run.waitFor(RECOVERED, PATIENCE);
    await until(() => allDone(spec.out), PATIENCE);
    const crashed = runsIn(spec.out).find((r) => r.event === "start" && r.n === 5)!.pid;
    expect(died.pid).to.equal(crashed);
    const ms = checkRecovered(spec.out, crashed, diedAt);
    console.log(`      ${name}: uncaught exception -> its last unfinished message started elsewhere after ${ms} ms`);
    await finish(run);
  });
}

/** True while a process with this pid exists. */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe("dramats worker processes whose supervisor dies", function () {
  this.timeout(60_000);
  const spec = cliSpec("dramats-orphans-redis-");
  const redis = redisNamespace("dramats-orphans", ["recovery"]);

  it("stop as on SIGTERM: running actors finish, unstarted messages go back at once (not after the heartbeat timeout), and they exit", async () => {
    const run = spec.start([APP, ...FLAGS], {
      env: { CLI_SPEC_OUT: spec.out, RECOVERY_WORK_MS: "300", RECOVERY_BROKER: "redis", REDIS_URL: redis.url, CLI_SPEC_NS: redis.ns },
    });
    await until(() => run.count("Worker started") === 2, 20_000);
    await redis.broker.enqueueMany(Array.from({ length: MESSAGES }, (_, n) => new Message({ queueName: "recovery", actorName: "recovery_work", args: [n] })));
    await until(() => new Set(runsIn(spec.out).map((r) => r.pid)).size === 2, 15_000);
    const workers = [...new Set(runsIn(spec.out).map((r) => r.pid))];
    process.kill(run.pid, "SIGKILL");
    // Nothing is held once the orphans stopped: what they ran finished, the rest is ready again.
    const deadline = Date.now() + PATIENCE;
    while ((await redis.broker.depths("recovery")).inFlight > 0) {
      if (Date.now() > deadline) throw new Error("The orphaned worker processes still hold messages");
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    await until(() => workers.every((pid) => !alive(pid)), PATIENCE);
    const runs = runsIn(spec.out);
    const started = new Set(runs.filter((r) => r.event === "start").map((r) => r.n));
    const done = new Set(runs.filter((r) => r.event === "done").map((r) => r.n));
    expect([...started].filter((n) => !done.has(n)), "runs the orphans abandoned").to.deep.equal([]);
    const depths = await redis.broker.depths("recovery");
    expect(depths.ready).to.equal(MESSAGES - done.size);
  });
});

describe("dramats recovery of a dead worker process's messages", function () {
  this.timeout(60_000);

  onEachRecoveryBroker("dramats-recovery-", recoveryCases);
});
