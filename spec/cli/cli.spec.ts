import { expect } from "chai";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { APP, cliSpec, FAST, isBootLine, pidsIn, ROOT, runs, until, WITH_METRICS } from "./run-cli.ts";
import { metricsUrl, scrapeUntil } from "./scrape.ts";

describe("dramats CLI (in-memory broker)", function () {
  this.timeout(30_000);
  const spec = cliSpec();

  it("prints its usage with --help and its version with --version, exiting 0", async () => {
    const help = spec.start(["--help"]);
    expect(await help.exited()).to.equal(0);
    expect(help.lines.map((l) => l.msg).join("\n")).to.include("--processes <n>").and.to.include("--max-messages <n>");
    const version = spec.start(["--version"]);
    expect(await version.exited()).to.equal(0);
    expect(version.lines[0]!.msg).to.match(/^\d+\.\d+\.\d+$/);
  });

  it("takes `help` and `help COMMAND` as help, not as a module to import", async () => {
    const help = spec.start(["help"]);
    expect(await help.exited()).to.equal(0);
    expect(help.lines.map((l) => l.msg).join("\n")).to.include("Usage: dramats [options] <modules...>");
    const queues = spec.start(["help", "queues"]);
    expect(await queues.exited()).to.equal(0);
    expect(queues.lines.map((l) => l.msg).join("\n")).to.include("Usage: dramats queues [options] [modules...]");
  });

  it("exits 2 on a bad command line", async () => {
    const cli = spec.start([APP, "--processes", "zero"]);
    expect(await cli.exited()).to.equal(2);
    expect(cli.stderr()).to.include("--processes").and.to.include("expected an integer");
  });

  it("exits 2 with a one-line message for a module path that does not exist", async () => {
    const cli = spec.start(["app/nowhere.ts"]);
    expect(await cli.exited()).to.equal(2);
    expect(cli.stderr().trim()).to.match(/^dramats: Module not found: app\/nowhere\.ts \(looked for .*\)$/);
  });

  it("exits 2 with the error and where it was thrown for a module that fails to import, reported once", async () => {
    const cli = spec.start(["spec/fixtures/cli-broken-module.ts", "--processes", "3", ...FAST]);
    expect(await cli.exited()).to.equal(2);
    const stderr = cli.stderr();
    expect(stderr).to.include("dramats: Could not import spec/fixtures/cli-broken-module.ts: TypeError: boom at import");
    expect(stderr).to.match(/at .*cli-broken-module\.ts:3/);
    expect(stderr.match(/Could not import/g)).to.have.length(1);
    expect(stderr).to.not.include("node:internal");
  });

  it("logs one boot line naming the broker, queues, actors and concurrency, and stops with exit 0 on SIGTERM", async () => {
    const cli = spec.start([APP, "--processes", "2", "--threads", "3", ...FAST], { env: { CLI_SPEC_OUT: spec.out, CLI_SPEC_SEND: "2" } });
    const boot = await cli.waitFor(isBootLine);
    expect(boot.msg).to.equal(
      "dramats booted: broker StubBroker; queues cli-stub, cli-stub-other, cli-stub-block; " +
        "actors note, other, crunch (threaded), spin (threaded), block, stray, leak; 2 processes x 3 concurrent actors, 1 CPU threads",
    );
    // Both processes boot and each processes its own in-memory messages.
    await until(() => pidsIn(spec.out) === 2 && runs(spec.out).length === 8);
    expect(await cli.stop()).to.equal(0);
    expect(cli.count(isBootLine)).to.equal(1);
  });

  it("pins each consumer's prefetch window with --prefetch, and adapts it without", async () => {
    const pinned = spec.start([APP, "--processes", "1", "--prefetch", "3", ...FAST]);
    expect((await pinned.waitFor((l) => l.msg === "Worker started")).prefetch).to.equal(3);
    expect(await pinned.stop()).to.equal(0);
    const adaptive = spec.start([APP, "--processes", "1", ...FAST]);
    expect((await adaptive.waitFor((l) => l.msg === "Worker started")).prefetch).to.equal("adaptive");
    expect(await adaptive.stop()).to.equal(0);
  });

  it("consumes only the queues given with --queues", async () => {
    const cli = spec.start([APP, "--processes", "1", "--queues", "cli-stub-other", ...FAST], { env: { CLI_SPEC_OUT: spec.out, CLI_SPEC_SEND: "3" } });
    await until(() => runs(spec.out).length >= 3);
    await new Promise((r) => setTimeout(r, 200));
    expect(runs(spec.out).map((r) => r.actor)).to.deep.equal(["other", "other", "other"]);
    expect(await cli.stop()).to.equal(0);
  });

  it("writes the pid file while running and removes it at exit", async () => {
    const pidFile = join(spec.dir, "dramats.pid");
    const cli = spec.start([APP, "--processes", "1", "--pid-file", pidFile, ...FAST]);
    await cli.waitFor(isBootLine);
    expect(readFileSync(pidFile, "utf8").trim()).to.equal(String(cli.pid));
    expect(await cli.stop()).to.equal(0);
    expect(existsSync(pidFile)).to.equal(false);
  });

  it("exits 4 when the pid file names a live process or holds garbage, and overwrites a stale one", async () => {
    const pidFile = join(spec.dir, "dramats.pid");
    writeFileSync(pidFile, `${process.pid}\n`);
    const live = spec.start([APP, "--pid-file", pidFile]);
    expect(await live.exited()).to.equal(4);
    expect(live.stderr()).to.include(`belongs to running process ${process.pid}`);

    writeFileSync(pidFile, "not a pid");
    expect(await spec.start([APP, "--pid-file", pidFile]).exited()).to.equal(4);

    writeFileSync(pidFile, "999999999\n");
    const stale = spec.start([APP, "--processes", "1", "--pid-file", pidFile, ...FAST]);
    await stale.waitFor(isBootLine);
    expect(readFileSync(pidFile, "utf8").trim()).to.equal(String(stale.pid));
    expect(await stale.stop()).to.equal(0);
  });

  it("writes every process's logs to --log-file and nothing to stdout", async () => {
    const logFile = join(spec.dir, "dramats.log");
    const cli = spec.start([APP, "--processes", "2", "--log-file", logFile, ...FAST], { env: { CLI_SPEC_SEND: "1" } });
    const logged = () =>
      existsSync(logFile) ? readFileSync(logFile, "utf8").trim().split("\n").filter(Boolean).map((l) => JSON.parse(l) as { process: string; msg: string }) : [];
    const said = (process: string, msg: string) => logged().some((l) => l.process === process && l.msg === msg);
    // The boot line comes when the first process is ready: wait for each worker's own start line,
    // so the stop below does not catch the second one still importing (it would log nothing).
    await until(() => logged().some((l) => l.process === "MainProcess" && l.msg.startsWith("dramats booted")), 20_000);
    await until(() => said("WorkerProcess(0)", "Worker started") && said("WorkerProcess(1)", "Worker started"), 20_000);
    expect(await cli.stop()).to.equal(0);
    // Every process's last lines too: the supervisor closes the file after its children's output ended.
    for (const process of ["WorkerProcess(0)", "WorkerProcess(1)"]) expect(said(process, "Worker stopped"), process).to.equal(true);
    expect(said("MainProcess", "All worker processes stopped")).to.equal(true);
    expect(new Set(logged().map((l) => l.process))).to.deep.equal(new Set(["MainProcess", "WorkerProcess(0)", "WorkerProcess(1)"]));
    expect(cli.lines).to.deep.equal([]);
  });

  it("takes the broker from DRAMATS_BROKER (or --broker) when the modules set none", async () => {
    const cli = spec.start(["spec/fixtures/cli-plain-actors.ts", "--processes", "1", ...FAST], { env: { DRAMATS_BROKER: "memory://local" } });
    const boot = await cli.waitFor(isBootLine);
    expect(boot.msg).to.match(/^dramats booted: broker StubBroker memory:\/\/local; queues cli-plain; actors plain;/);
    expect(await cli.stop("SIGINT")).to.equal(0);
  });

  it("uses the embedded SQLite broker sqlite://./dramats.sqlite when nothing names a broker, and says so", async () => {
    const module = join(ROOT, "spec/fixtures/cli-plain-actors.ts");
    const cli = spec.start([module, "--processes", "2", ...FAST], { cwd: spec.dir, env: { DRAMATS_BROKER: "" } });
    const boot = await cli.waitFor(isBootLine);
    expect(boot.msg).to.match(
      /^dramats booted: broker SqliteBroker sqlite:\/\/\.\/dramats\.sqlite \(the default: choose another with --broker or DRAMATS_BROKER\); queues cli-plain; actors plain; 2 processes/,
    );
    expect(existsSync(join(spec.dir, "dramats.sqlite"))).to.equal(true);
    expect(await cli.stop()).to.equal(0);
  });

  it("exits 2 for memory:// with more than one process: each would see only its own messages", async () => {
    const cli = spec.start(["spec/fixtures/cli-plain-actors.ts", "--processes", "2", "--broker", "memory://", ...FAST]);
    expect(await cli.exited()).to.equal(2);
    expect(cli.stderr()).to.include("memory:// keeps messages inside one process").and.to.include("--processes 1");
  });

  it("exits 2 for a broker URL with an unknown scheme", async () => {
    const cli = spec.start(["spec/fixtures/cli-plain-actors.ts", "--processes", "1", "--broker", "kafka://x", ...FAST]);
    expect(await cli.exited()).to.equal(2);
    expect(cli.stderr()).to.include("Unsupported broker URL scheme kafka:");
  });

  it("serves the sum of every worker process's metrics on one port", async () => {
    const cli = spec.start([APP, "--processes", "2", ...WITH_METRICS], { env: { CLI_SPEC_OUT: spec.out, CLI_SPEC_SEND: "2" } });
    const url = await metricsUrl(cli);
    await until(() => runs(spec.out).length === 8 && cli.count("Worker started") === 2);
    // Each process ran its own two "note" messages: the fleet's counter says four.
    const notes = /^dramatiq_messages_total\{queue_name="cli-stub",actor_name="note"\} 4$/m;
    const text = await scrapeUntil(url, (t) => notes.test(t));
    expect(text).to.match(notes);
    expect(text).to.include("process_resident_memory_bytes");
    expect(await cli.stop()).to.equal(0);
  });
});
