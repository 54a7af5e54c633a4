import { expect } from "chai";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { pathToFileURL } from "node:url";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { isBootLine, ROOT, runCli, type CliRun } from "./run-cli.ts";

const APP = "spec/fixtures/cli-stub-app.ts";
/** Short heartbeats and grace so the whole file stays quick. */
const FAST = ["--heartbeat-interval", "100", "--heartbeat-timeout", "1500", "--grace", "2000", "--cpu-threads", "1"];

/** Lines the fixture app appended: "<pid> <actor> <tag> <threadId>". */
function runs(file: string): { pid: number; actor: string; tag: string; threadId: number }[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, "utf8")
    .trim()
    .split("\n")
    .filter(Boolean)
    .map((line) => {
      const [pid, actor, tag, threadId] = line.split(" ");
      return { pid: Number(pid), actor: actor!, tag: tag!, threadId: Number(threadId) };
    });
}

async function until(check: () => boolean, timeout = 10_000): Promise<void> {
  const deadline = Date.now() + timeout;
  while (!check()) {
    if (Date.now() > deadline) throw new Error("Condition not met in time");
    await new Promise((r) => setTimeout(r, 25));
  }
}

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

  it("gives up with the worker's exit code when worker processes die at boot in a loop", async () => {
    cli = runCli(["spec/fixtures/cli-crash-module.ts", ...FAST]);
    expect(await cli.exited(20_000)).to.equal(7);
    const fatal = cli.lines.find((l) => l.level === 60);
    expect(fatal?.msg).to.equal("Worker process 0 failed to boot 5 times in a row; giving up");
  });

  it("logs one boot line naming the broker, queues, actors and concurrency, and stops with exit 0 on SIGTERM", async () => {
    const out = join(dir, "runs.txt");
    cli = runCli([APP, "--processes", "2", "--threads", "3", ...FAST], { env: { CLI_SPEC_OUT: out, CLI_SPEC_SEND: "2" } });
    const boot = await cli.waitFor(isBootLine);
    expect(boot.msg).to.equal(
      "dramats booted: broker StubBroker; queues cli-stub, cli-stub-other, cli-stub-block; " +
        "actors note, other, crunch (threaded), spin (threaded), block, leak; 2 processes x 3 concurrent actors, 1 CPU threads",
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

  it("runs threaded actors on pool threads and stops one past its time limit while serving others", async () => {
    const out = join(dir, "runs.txt");
    cli = runCli([APP, "--processes", "1", ...FAST], { env: { CLI_SPEC_OUT: out, CLI_SPEC_SPIN: "1", CLI_SPEC_CRUNCH: "2", CLI_SPEC_SEND: "2" } });
    const dead = await cli.waitFor((l) => l.msg === "Message dead-lettered" && l.actor === "spin");
    expect(dead.reason).to.match(/^TimeLimitExceeded: Time limit of 300 ms exceeded by spin/);
    const all = runs(out);
    // Two attempts (maxRetries: 1); the retry may spend its limit waiting for the replacement thread to boot.
    expect(all.filter((r) => r.actor === "spin-start")).to.have.length.of.at.least(1);
    expect(all.filter((r) => r.actor === "crunch").every((r) => r.threadId > 0)).to.equal(true);
    expect(all.filter((r) => r.actor === "crunch")).to.have.length(2);
    expect(all.filter((r) => r.actor === "note")).to.have.length(2);
    cli.signal("SIGTERM");
    expect(await cli.exited()).to.equal(0);
  });

  it("kills and replaces a worker process whose event loop is blocked", async () => {
    const out = join(dir, "runs.txt");
    cli = runCli([APP, "--processes", "1", "--queues", "cli-stub-block", ...FAST], { env: { CLI_SPEC_OUT: out, CLI_SPEC_BLOCK: "1" } });
    await cli.waitFor((l) => typeof l.msg === "string" && l.msg.startsWith("Worker process missed its heartbeats"));
    // The replacement process runs (and blocks on) its own in-memory copy of the message.
    await until(() => new Set(runs(out).map((r) => r.pid)).size >= 2);
    cli.signal("SIGTERM");
    // Stopping ends even though the replacement is blocked: its silence gets it killed too,
    // and the exit code says a process did not stop cleanly.
    expect(await cli.exited()).to.equal(1);
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

  it("replaces every worker process on SIGHUP without stopping", async () => {
    const out = join(dir, "runs.txt");
    cli = runCli([APP, "--processes", "1", ...FAST], { env: { CLI_SPEC_OUT: out, CLI_SPEC_SEND: "1" } });
    await until(() => runs(out).length === 2);
    cli.signal("SIGHUP");
    await cli.waitFor((l) => l.msg === "Worker process retired");
    await until(() => runs(out).length === 4);
    const pids = new Set(runs(out).map((r) => r.pid));
    expect(pids.size).to.equal(2);
    cli.signal("SIGTERM");
    expect(await cli.exited()).to.equal(0);
  });

  it("recycles a worker process after --max-messages and starts its replacement", async () => {
    const out = join(dir, "runs.txt");
    cli = runCli([APP, "--processes", "1", "--threads", "1", "--max-messages", "5", "--queues", "cli-stub", ...FAST], {
      env: { CLI_SPEC_OUT: out, CLI_SPEC_SEND: "8" },
    });
    const retiring = await cli.waitFor((l) => l.msg === "Worker process is recycling; starting its replacement");
    expect(retiring.reason).to.equal("processed 5 messages (--max-messages 5)");
    await cli.waitFor((l) => l.msg === "Worker process retired");
    await until(() => new Set(runs(out).map((r) => r.pid)).size === 2);
    const first = runs(out)[0]!.pid;
    // Concurrency 1: the first process ran exactly five messages, then gave the rest back.
    expect(runs(out).filter((r) => r.pid === first)).to.have.length(5);
    cli.signal("SIGTERM");
    expect(await cli.exited()).to.equal(0);
  });

  it("recycles a worker process whose memory passes --max-memory", async () => {
    const out = join(dir, "runs.txt");
    cli = runCli([APP, "--processes", "1", "--threads", "1", "--max-memory", "300", "--queues", "cli-stub", ...FAST], {
      env: { CLI_SPEC_OUT: out, CLI_SPEC_LEAK: "12" },
    });
    const retiring = await cli.waitFor((l) => l.msg === "Worker process is recycling; starting its replacement");
    expect(retiring.reason).to.match(/^RSS \d+ MB passed --max-memory 300 MB$/);
    await cli.waitFor((l) => l.msg === "Worker process retired");
    cli.signal("SIGTERM");
    expect(await cli.exited()).to.equal(0);
  });

  it("reloads worker processes when a source file under --watch changes", async () => {
    const app = join(dir, "app", "actors.ts");
    const lib = pathToFileURL(join(ROOT, "lib/index.ts")).href;
    const stub = pathToFileURL(join(ROOT, "brokers/stub.ts")).href;
    mkdirSync(join(dir, "app"));
    writeFileSync(join(dir, "app", "package.json"), '{ "type": "module" }\n');
    const source = (version: number) =>
      `import { actor, setBroker } from ${JSON.stringify(lib)};\n` +
      `import { StubBroker } from ${JSON.stringify(stub)};\n` +
      `setBroker(new StubBroker());\n` +
      `export const v${version} = actor(function v${version}() {}, { queueName: "watched" });\n` +
      `console.log("loaded v${version}");\n`;
    writeFileSync(app, source(1));
    cli = runCli([app, "--processes", "1", "--watch", join(dir, "app"), ...FAST]);
    const boot = await cli.waitFor(isBootLine);
    expect(boot.msg).to.include("actors v1;");
    writeFileSync(app, source(2));
    await cli.waitFor((l) => l.msg === "Reloading worker processes");
    await cli.waitFor((l) => l.msg === "loaded v2");
    await cli.waitFor((l) => l.msg === "Worker process retired");
    cli.signal("SIGTERM");
    expect(await cli.exited()).to.equal(0);
  });
});
