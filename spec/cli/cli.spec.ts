import { expect } from "chai";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { APP, FAST, isBootLine, ROOT, runCli, runs, until, type CliRun } from "./run-cli.ts";

describe("dramats CLI (in-memory broker)", function () {
  this.timeout(30_000);
  let dir: string;
  let cli: CliRun | undefined;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "dramats-cli-"));
  });
  afterEach(() => {
    cli?.destroy();
    cli = undefined;
    rmSync(dir, { recursive: true, force: true });
  });

  it("prints its usage with --help and its version with --version, exiting 0", async () => {
    cli = runCli(["--help"]);
    expect(await cli.exited()).to.equal(0);
    expect(cli.lines.map((l) => l.msg).join("\n")).to.include("--processes <n>").and.to.include("--max-messages <n>");
    cli = runCli(["--version"]);
    expect(await cli.exited()).to.equal(0);
    expect(cli.lines[0]!.msg).to.match(/^\d+\.\d+\.\d+$/);
  });

  it("exits 2 on a bad command line", async () => {
    cli = runCli([APP, "--processes", "zero"]);
    expect(await cli.exited()).to.equal(2);
    expect(cli.stderr()).to.include("--processes").and.to.include("expected an integer");
  });

  it("exits 2 with a one-line message for a module path that does not exist", async () => {
    cli = runCli(["app/nowhere.ts"]);
    expect(await cli.exited()).to.equal(2);
    expect(cli.stderr().trim()).to.match(/^dramats: Module not found: app\/nowhere\.ts \(looked for .*\)$/);
  });

  it("exits 2 with the error and where it was thrown for a module that fails to import, reported once", async () => {
    cli = runCli(["spec/fixtures/cli-broken-module.ts", "--processes", "3", ...FAST]);
    expect(await cli.exited()).to.equal(2);
    const stderr = cli.stderr();
    expect(stderr).to.include("dramats: Could not import spec/fixtures/cli-broken-module.ts: TypeError: boom at import");
    expect(stderr).to.match(/at .*cli-broken-module\.ts:3/);
    expect(stderr.match(/Could not import/g)).to.have.length(1);
    expect(stderr).to.not.include("node:internal");
  });

  it("logs one boot line naming the broker, queues, actors and concurrency, and stops with exit 0 on SIGTERM", async () => {
    const out = join(dir, "runs.txt");
    cli = runCli([APP, "--processes", "2", "--threads", "3", ...FAST], { env: { CLI_SPEC_OUT: out, CLI_SPEC_SEND: "2" } });
    const boot = await cli.waitFor(isBootLine);
    expect(boot.msg).to.equal(
      "dramats booted: broker StubBroker; queues cli-stub, cli-stub-other, cli-stub-block; " +
        "actors note, other, crunch (threaded), spin (threaded), block, stray, leak; 2 processes x 3 concurrent actors, 1 CPU threads",
    );
    // Both processes boot and each processes its own in-memory messages.
    await until(() => new Set(runs(out).map((r) => r.pid)).size === 2 && runs(out).length === 8);
    cli.signal("SIGTERM");
    expect(await cli.exited()).to.equal(0);
    expect(cli.lines.filter(isBootLine)).to.have.length(1);
  });

  it("consumes only the queues given with --queues", async () => {
    const out = join(dir, "runs.txt");
    cli = runCli([APP, "--processes", "1", "--queues", "cli-stub-other", ...FAST], { env: { CLI_SPEC_OUT: out, CLI_SPEC_SEND: "3" } });
    await until(() => runs(out).length >= 3);
    await new Promise((r) => setTimeout(r, 200));
    expect(runs(out).map((r) => r.actor)).to.deep.equal(["other", "other", "other"]);
    cli.signal("SIGTERM");
    expect(await cli.exited()).to.equal(0);
  });

  it("writes the pid file while running and removes it at exit", async () => {
    const pidFile = join(dir, "dramats.pid");
    cli = runCli([APP, "--processes", "1", "--pid-file", pidFile, ...FAST]);
    await cli.waitFor(isBootLine);
    expect(readFileSync(pidFile, "utf8").trim()).to.equal(String(cli.pid));
    cli.signal("SIGTERM");
    expect(await cli.exited()).to.equal(0);
    expect(existsSync(pidFile)).to.equal(false);
  });

  it("exits 4 when the pid file names a live process or holds garbage, and overwrites a stale one", async () => {
    const pidFile = join(dir, "dramats.pid");
    writeFileSync(pidFile, `${process.pid}\n`);
    cli = runCli([APP, "--pid-file", pidFile]);
    expect(await cli.exited()).to.equal(4);
    expect(cli.stderr()).to.include(`belongs to running process ${process.pid}`);

    writeFileSync(pidFile, "not a pid");
    cli = runCli([APP, "--pid-file", pidFile]);
    expect(await cli.exited()).to.equal(4);

    writeFileSync(pidFile, "999999999\n");
    cli = runCli([APP, "--processes", "1", "--pid-file", pidFile, ...FAST]);
    await cli.waitFor(isBootLine);
    expect(readFileSync(pidFile, "utf8").trim()).to.equal(String(cli.pid));
    cli.signal("SIGTERM");
    expect(await cli.exited()).to.equal(0);
  });

  it("writes every process's logs to --log-file and nothing to stdout", async () => {
    const logFile = join(dir, "dramats.log");
    cli = runCli([APP, "--processes", "2", "--log-file", logFile, ...FAST], { env: { CLI_SPEC_SEND: "1" } });
    await until(() => existsSync(logFile) && readFileSync(logFile, "utf8").includes("dramats booted"));
    cli.signal("SIGTERM");
    expect(await cli.exited()).to.equal(0);
    const logged = readFileSync(logFile, "utf8").trim().split("\n").map((l) => JSON.parse(l) as { process: string });
    expect(new Set(logged.map((l) => l.process))).to.deep.equal(new Set(["MainProcess", "WorkerProcess(0)", "WorkerProcess(1)"]));
    expect(cli.lines).to.deep.equal([]);
  });

  it("takes the broker from DRAMATS_BROKER (or --broker) when the modules set none", async () => {
    cli = runCli(["spec/fixtures/cli-plain-actors.ts", "--processes", "1", ...FAST], { env: { DRAMATS_BROKER: "memory://local" } });
    const boot = await cli.waitFor(isBootLine);
    expect(boot.msg).to.match(/^dramats booted: broker StubBroker memory:\/\/local; queues cli-plain; actors plain;/);
    cli.signal("SIGINT");
    expect(await cli.exited()).to.equal(0);
  });

  it("uses the embedded SQLite broker sqlite://./dramats.sqlite when nothing names a broker, and says so", async () => {
    const module = join(ROOT, "spec/fixtures/cli-plain-actors.ts");
    cli = runCli([module, "--processes", "2", ...FAST], { cwd: dir, env: { DRAMATS_BROKER: "" } });
    const boot = await cli.waitFor(isBootLine);
    expect(boot.msg).to.match(
      /^dramats booted: broker SqliteBroker sqlite:\/\/\.\/dramats\.sqlite \(the default: choose another with --broker or DRAMATS_BROKER\); queues cli-plain; actors plain; 2 processes/,
    );
    expect(existsSync(join(dir, "dramats.sqlite"))).to.equal(true);
    cli.signal("SIGTERM");
    expect(await cli.exited()).to.equal(0);
  });

  it("exits 2 for memory:// with more than one process: each would see only its own messages", async () => {
    cli = runCli(["spec/fixtures/cli-plain-actors.ts", "--processes", "2", "--broker", "memory://", ...FAST]);
    expect(await cli.exited()).to.equal(2);
    expect(cli.stderr()).to.include("memory:// keeps messages inside one process").and.to.include("--processes 1");
  });

  it("exits 2 for a broker URL with an unknown scheme", async () => {
    cli = runCli(["spec/fixtures/cli-plain-actors.ts", "--processes", "1", "--broker", "kafka://x", ...FAST]);
    expect(await cli.exited()).to.equal(2);
    expect(cli.stderr()).to.include("Unsupported broker URL scheme kafka:");
  });

  it("serves the sum of every worker process's metrics on one port", async () => {
    const out = join(dir, "runs.txt");
    const args = [APP, "--processes", "2", ...FAST.filter((a) => a !== "--no-metrics"), "--metrics-port", "0"];
    cli = runCli(args, { env: { CLI_SPEC_OUT: out, CLI_SPEC_SEND: "2" } });
    const serving = await cli.waitFor((l) => l.msg === "Serving the worker processes' metrics");
    await until(() => runs(out).length === 8 && cli!.lines.filter((l) => l.msg === "Worker started").length === 2);
    const text = await (await fetch(serving.url as string)).text();
    // Each process ran its own two "note" messages: the fleet's counter says four.
    expect(text).to.match(/^dramatiq_messages_total\{queue_name="cli-stub",actor_name="note"\} 4$/m);
    expect(text).to.include("process_resident_memory_bytes");
    cli.signal("SIGTERM");
    expect(await cli.exited()).to.equal(0);
  });
});
