// Signals as process managers and terminals send them, against the real command on Redis. The app
// sets a 60 s heartbeat timeout (SLOW_RECOVERY_MS), and each case asserts that nothing is held
// once the supervisor exited: every message that started either finished or is ready again, so
// none waits for that timeout. Sequenced by log lines; the one wait is the documented window in
// which two stop signals count as one.
import { expect } from "chai";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { Message } from "../../lib/message.ts";
import { STOP_SIGNAL_WINDOW_MS } from "../../lib/cli/stop-signals.ts";
import { SLOW_RECOVERY_MS } from "../fixtures/cli-recovery-app.ts";
import { redisNamespace } from "./redis-namespace.ts";
import { cliSpec, recordsIn, until, type CliRun } from "./run-cli.ts";

const APP = "spec/fixtures/cli-recovery-app.ts";
const PROCESSES = 2;
const MESSAGES = 12;
/** Long enough that every case signals while actors run; far below the grace period. */
const WORK_MS = 1_500;
// Each process holds one unstarted message besides its two running ones: both processes are busy
// at once, and stops also have something to give back.
const FLAGS = ["--processes", String(PROCESSES), "--threads", "2", "--prefetch", "3", "--heartbeat-interval", "100", "--heartbeat-timeout", "10000", "--cpu-threads", "1", "--no-metrics"];
const STOPPING = "Stopping: finishing running actors, giving back unstarted messages";
const FORCED = "Forced stop: exiting without waiting for running actors";
const countIn = (file: string, msg: string) => (existsSync(file) ? readFileSync(file, "utf8").split(`"msg":"${msg}"`).length - 1 : 0);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface Entry {
  event: string;
  pid: number;
  n: number;
}

describe("dramats under stop signals (Redis)", function () {
  this.timeout(60_000);
  const spec = cliSpec("dramats-signals-");
  const redis = redisNamespace("dramats-signals", ["recovery"]);

  const records = (): Entry[] => recordsIn(spec.out).map(([event, pid, n]) => ({ event: event!, pid: Number(pid), n: Number(n) }));
  const started = () => new Set(records().filter((r) => r.event === "start").map((r) => r.n));
  const done = () => new Set(records().filter((r) => r.event === "done").map((r) => r.n));

  const fleet = (grace: number, work: number, extra: string[] = []) =>
    spec.start([APP, ...FLAGS, "--grace", String(grace), ...extra], {
      env: { CLI_SPEC_OUT: spec.out, RECOVERY_WORK_MS: String(work), RECOVERY_BROKER: "redis", REDIS_URL: redis.url, CLI_SPEC_NS: redis.ns },
    });

  /**
   * A fleet of PROCESSES worker processes, all running actors when this resolves, and their pids.
   * `logFile`: the fleet logs there (--log-file) instead of stdout.
   */
  async function busyFleet(options: { grace?: number; work?: number; logFile?: string } = {}): Promise<{ run: CliRun; workers: number[] }> {
    const { grace = 20_000, work = WORK_MS, logFile } = options;
    const run = fleet(grace, work, logFile === undefined ? [] : ["--log-file", logFile]);
    const booted = () => (logFile === undefined ? run.count("Worker started") : countIn(logFile, "Worker started"));
    await until(() => booted() === PROCESSES, 20_000);
    await redis.broker.enqueueMany(Array.from({ length: MESSAGES }, (_, n) => new Message({ queueName: "recovery", actorName: "recovery_work", args: [n] })));
    await until(() => new Set(records().filter((r) => r.event === "start").map((r) => r.pid)).size === PROCESSES, 15_000);
    const workers = [...new Set(records().map((r) => r.pid))];
    return { run, workers };
  }

  /** Resolves once every worker process logged that it is stopping gracefully. */
  const allStopping = (run: CliRun) => until(() => run.count(STOPPING) === PROCESSES, 10_000);

  /** Nothing held: what started finished, or (`forced`) is ready again; the rest never left the queue. */
  async function nothingLost(forced: boolean): Promise<void> {
    const depths = await redis.broker.depths("recovery");
    expect(depths.inFlight, "messages still held (they would wait for the heartbeat timeout)").to.equal(0);
    const finished = done();
    expect(depths.ready, "messages neither finished nor ready again").to.equal(MESSAGES - finished.size);
    const unfinished = [...started()].filter((n) => !finished.has(n));
    if (forced) expect(unfinished, "a forced stop interrupted running actors").to.not.be.empty;
    else expect(unfinished, "runs a graceful stop abandoned").to.deep.equal([]);
  }

  it("stops gracefully with exit 0 on SIGTERM to the whole process group", async () => {
    const { run } = await busyFleet();
    process.kill(-run.pid, "SIGTERM");
    const code = await run.exited(20_000);
    console.log(`      group SIGTERM: exit ${code}`);
    expect(code).to.equal(0);
    expect(run.count(FORCED)).to.equal(0);
    await nothingLost(false);
  });

  it("stops gracefully with exit 0 on SIGTERM to the supervisor, then to each worker process", async () => {
    const { run, workers } = await busyFleet();
    run.signal("SIGTERM");
    await allStopping(run);
    for (const pid of workers) process.kill(pid, "SIGTERM");
    const code = await run.exited(20_000);
    console.log(`      supervisor-then-workers SIGTERM: exit ${code}`);
    expect(run.count(FORCED)).to.equal(0);
    expect(code).to.equal(0);
    await nothingLost(false);
  });

  it("stops gracefully with exit 0 on SIGTERM to each worker process, then to the supervisor", async () => {
    const { run, workers } = await busyFleet();
    for (const pid of workers) process.kill(pid, "SIGTERM");
    await allStopping(run);
    run.signal("SIGTERM");
    const code = await run.exited(20_000);
    expect(run.count(FORCED)).to.equal(0);
    expect(code).to.equal(0);
    await nothingLost(false);
  });

  it("stops with exit 0 when idle worker processes got SIGTERM and left before the supervisor got its own", async () => {
    // -v: "Forked worker process" is a debug line.
    const run = fleet(20_000, WORK_MS, ["-v"]);
    await until(() => run.count("Worker started") === PROCESSES, 20_000);
    for (const pid of run.lines.filter((l) => l.msg === "Worker started").map((l) => l.pid!)) process.kill(pid, "SIGTERM");
    // The supervisor took their exits for deaths and forks replacements: stop while they boot.
    await until(() => run.count("Worker process died; restarting it") === PROCESSES, 10_000);
    await until(() => run.count("Forked worker process") === 2 * PROCESSES, 10_000);
    run.signal("SIGTERM");
    expect(await run.exited(20_000)).to.equal(0);
  });

  it("forces the stop (exit 1) on a second SIGTERM to the supervisor, giving running messages back at once", async () => {
    const { run } = await busyFleet();
    run.signal("SIGTERM");
    await allStopping(run);
    await sleep(STOP_SIGNAL_WINDOW_MS);
    run.signal("SIGTERM");
    const code = await run.exited(20_000);
    expect(run.count("Second signal: forcing worker processes to exit")).to.equal(1);
    expect(code).to.equal(1);
    await nothingLost(true);
  });

  it("stops on a first SIGINT to the group (a terminal's Ctrl-C) and forces on the second (exit 1)", async () => {
    const { run } = await busyFleet();
    process.kill(-run.pid, "SIGINT");
    await allStopping(run);
    await sleep(STOP_SIGNAL_WINDOW_MS);
    expect(run.count(FORCED), "the first Ctrl-C forced").to.equal(0);
    process.kill(-run.pid, "SIGINT");
    const code = await run.exited(20_000);
    expect(code).to.equal(1);
    await nothingLost(true);
  });

  // With --log-file the orphans' output goes to a pipe whose reader (the supervisor) is gone.
  for (const logs of ["stdout", "--log-file"]) {
    it(`gives back, within the grace period, what orphaned worker processes cannot finish when the supervisor is SIGKILLed; a new fleet runs it (logs to ${logs})`, async () => {
      // Actors far longer than the grace period: the orphans must give their runs back, not hold them.
      const { run, workers } = await busyFleet({ grace: 1_000, work: 8_000, ...(logs === "stdout" ? {} : { logFile: join(spec.dir, "fleet.log") }) });
      process.kill(run.pid, "SIGKILL");
      const killedAt = Date.now();
      console.log(`      supervisor SIGKILL: supervisor ${String(await run.exited())}`);
      await until(() => workers.every((pid) => records().some((r) => r.event === "exit" && r.pid === pid)), SLOW_RECOVERY_MS / 3);
      const exits = records().filter((r) => r.event === "exit");
      console.log(`      supervisor SIGKILL: orphans exited ${exits.map((r) => r.n).join(", ")} ${Date.now() - killedAt} ms after the kill`);
      expect(exits.map((r) => r.n)).to.deep.equal(workers.map(() => 0));
      await nothingLost(true);
      const again = fleet(20_000, 10);
      await until(() => done().size === MESSAGES, SLOW_RECOVERY_MS / 3);
      expect(await again.stop()).to.equal(0);
    });
  }
});
