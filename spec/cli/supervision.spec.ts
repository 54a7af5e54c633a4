import { expect } from "chai";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { APP, cliSpec, FAST, isBootLine, pidsIn, ROOT, runs, until } from "./run-cli.ts";

describe("dramats supervision (in-memory broker)", function () {
  this.timeout(60_000);
  const spec = cliSpec();

  it("gives up with the worker's exit code when worker processes die at boot in a loop", async () => {
    const cli = spec.start(["spec/fixtures/cli-crash-module.ts", ...FAST]);
    expect(await cli.exited(20_000)).to.equal(7);
    const fatal = cli.lines.find((l) => l.level === 60);
    expect(fatal?.msg).to.equal("Worker process 0 failed to boot 5 times in a row; giving up");
  });

  it("keeps restarting a worker process that cannot reach the broker at boot once the fleet has served, until it can", async () => {
    const outage = join(spec.dir, "outage");
    const cli = spec.start(["spec/fixtures/cli-outage-app.ts", "--processes", "1", ...FAST], { env: { CLI_SPEC_OUTAGE: outage } });
    const started = await cli.waitFor((l) => l.msg === "Worker started");
    writeFileSync(outage, "");
    process.kill(started.pid!, "SIGKILL");
    // More failed boots than a fleet that never served is allowed (5): it is an outage, not a bad setup.
    await until(() => cli.count("Worker process cannot reach the broker at boot; trying again until it can") >= 6, 25_000);
    expect(cli.child.exitCode, "the supervisor still runs").to.equal(null);
    rmSync(outage);
    await until(() => cli.count("Worker started") >= 2, 20_000);
    expect(await cli.stop()).to.equal(0);
  });

  it("runs threaded actors on pool threads and stops one past its time limit while serving others", async () => {
    const cli = spec.start([APP, "--processes", "1", ...FAST], { env: { CLI_SPEC_OUT: spec.out, CLI_SPEC_SPIN: "1", CLI_SPEC_CRUNCH: "2", CLI_SPEC_SEND: "2" } });
    const dead = await cli.waitFor((l) => l.msg === "Message dead-lettered" && l.actor === "spin");
    expect(dead.reason).to.match(/^TimeLimitExceeded: Time limit of 300 ms exceeded by spin/);
    const all = runs(spec.out);
    // Two attempts (maxRetries: 1); the retry may spend its limit waiting for the replacement thread to boot.
    expect(all.filter((r) => r.actor === "spin-start")).to.have.length.of.at.least(1);
    expect(all.filter((r) => r.actor === "crunch").every((r) => r.threadId > 0)).to.equal(true);
    expect(all.filter((r) => r.actor === "crunch")).to.have.length(2);
    expect(all.filter((r) => r.actor === "note")).to.have.length(2);
    expect(await cli.stop()).to.equal(0);
  });

  it("kills and replaces a worker process whose event loop is blocked", async () => {
    const cli = spec.start([APP, "--processes", "1", "--queues", "cli-stub-block", ...FAST], { env: { CLI_SPEC_OUT: spec.out, CLI_SPEC_BLOCK: "1" } });
    await cli.waitFor((l) => typeof l.msg === "string" && l.msg.startsWith("Worker process missed its heartbeats"));
    // The replacement process runs (and blocks on) its own in-memory copy of the message.
    await until(() => pidsIn(spec.out) >= 2);
    // Stopping ends even though the replacement is blocked: its silence gets it killed too,
    // and the exit code says a process did not stop cleanly.
    expect(await cli.stop()).to.equal(1);
  });

  it("names a message that keeps blocking processes and dead-letters it instead of running it again", async () => {
    const messageId = "0b5e55ed-0000-4000-8000-00000000b10c";
    const cli = spec.start([APP, "--processes", "1", "--queues", "cli-stub-block", ...FAST], { env: { CLI_SPEC_OUT: spec.out, CLI_SPEC_BLOCK_ID: messageId } });
    // The first kill turns recording on, the second names the message, the third process skips it.
    const noted = await cli.waitFor("Message blocked the event loop; it will be dead-lettered when redelivered", 20_000);
    expect(noted.messageId).to.equal(messageId);
    const dead = await cli.waitFor((l) => l.msg === "Message dead-lettered" && l.messageId === messageId);
    expect(dead.reason).to.match(/^EventLoopBlocked: /);
    expect(runs(spec.out, "block-start")).to.have.length(2);
    expect(await cli.stop()).to.equal(0);
  });

  it("logs a promise rejection nobody handled and keeps the process serving", async () => {
    const cli = spec.start([APP, "--processes", "1", "--threads", "1", "--queues", "cli-stub", ...FAST], {
      env: { CLI_SPEC_OUT: spec.out, CLI_SPEC_STRAY: "1", CLI_SPEC_SEND: "3" },
    });
    const logged = await cli.waitFor("Unhandled promise rejection in a worker process");
    expect((logged.err as { message?: string }).message).to.equal("stray rejection r0");
    await until(() => runs(spec.out, "note").length === 3);
    expect(pidsIn(spec.out)).to.equal(1);
    expect(await cli.stop()).to.equal(0);
  });

  it("replaces every worker process on SIGHUP without stopping", async () => {
    const cli = spec.start([APP, "--processes", "1", ...FAST], { env: { CLI_SPEC_OUT: spec.out, CLI_SPEC_SEND: "1" } });
    await until(() => runs(spec.out).length === 2);
    cli.signal("SIGHUP");
    await cli.waitFor("Worker process retired");
    await until(() => runs(spec.out).length === 4);
    expect(pidsIn(spec.out)).to.equal(2);
    expect(await cli.stop()).to.equal(0);
  });

  it("recycles a worker process after --max-messages and starts its replacement", async () => {
    const cli = spec.start([APP, "--processes", "1", "--threads", "1", "--max-messages", "5", "--queues", "cli-stub", ...FAST], {
      env: { CLI_SPEC_OUT: spec.out, CLI_SPEC_SEND: "8" },
    });
    const retiring = await cli.waitFor("Worker process is recycling; starting its replacement");
    expect(retiring.reason).to.equal("processed 5 messages (--max-messages 5)");
    await cli.waitFor("Worker process retired");
    await until(() => pidsIn(spec.out) === 2);
    const first = runs(spec.out)[0]!.pid;
    // Concurrency 1: the first process ran exactly five messages, then gave the rest back.
    expect(runs(spec.out).filter((r) => r.pid === first)).to.have.length(5);
    expect(await cli.stop()).to.equal(0);
  });

  it("recycles a worker process whose memory passes --max-memory", async () => {
    // The in-memory broker's twelve 40 MB leaks run back to back without a turn of the event loop
    // for timers: on a loaded machine that can outlast FAST's 1.5 s heartbeat timeout, and the
    // process is killed as blocked before its RSS check runs. A longer timeout keeps this about memory.
    const patient = [...FAST, "--heartbeat-timeout", "10000"];
    const cli = spec.start([APP, "--processes", "1", "--threads", "1", "--max-memory", "300", "--queues", "cli-stub", ...patient], {
      env: { CLI_SPEC_OUT: spec.out, CLI_SPEC_LEAK: "12" },
    });
    const retiring = await cli.waitFor("Worker process is recycling; starting its replacement");
    expect(retiring.reason).to.match(/^RSS \d+ MB passed --max-memory 300 MB$/);
    await cli.waitFor("Worker process retired");
    expect(await cli.stop()).to.equal(0);
  });

  it("reloads worker processes when a source file under --watch changes", async () => {
    const app = join(spec.dir, "app", "actors.ts");
    const lib = pathToFileURL(join(ROOT, "lib/index.ts")).href;
    const stub = pathToFileURL(join(ROOT, "brokers/stub.ts")).href;
    mkdirSync(join(spec.dir, "app"));
    writeFileSync(join(spec.dir, "app", "package.json"), '{ "type": "module" }\n');
    const source = (version: number) =>
      `import { actor, setBroker } from ${JSON.stringify(lib)};\n` +
      `import { StubBroker } from ${JSON.stringify(stub)};\n` +
      `setBroker(new StubBroker());\n` +
      `export const v${version} = actor(function v${version}() {}, { queueName: "watched" });\n` +
      `console.log("loaded v${version}");\n`;
    writeFileSync(app, source(1));
    const cli = spec.start([app, "--processes", "1", "--watch", join(spec.dir, "app"), ...FAST]);
    const boot = await cli.waitFor(isBootLine);
    expect(boot.msg).to.include("actors v1;");
    writeFileSync(app, source(2));
    await cli.waitFor("Reloading worker processes");
    await cli.waitFor("loaded v2");
    await cli.waitFor("Worker process retired");
    expect(await cli.stop()).to.equal(0);
  });
});
