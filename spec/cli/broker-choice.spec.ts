// Which broker the worker processes use, and what they run on it: --broker over a module's own
// broker (keeping its middleware), and --no-scheduler.
import { expect } from "chai";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { SqliteBroker } from "../../brokers/sqlite/index.ts";
import { Message } from "../../lib/index.ts";
import { cliSpec, FAST, isBootLine, until, type CliRun } from "./run-cli.ts";

function lines(file: string): string[] {
  return existsSync(file) ? readFileSync(file, "utf8").trim().split("\n").filter(Boolean) : [];
}

describe("dramats broker choice and scheduler", function () {
  this.timeout(30_000);
  const spec = cliSpec("dramats-choice-");

  const start = (args: string[], env: NodeJS.ProcessEnv = {}): CliRun => spec.start([...args, ...FAST], { env: { CLI_SPEC_OUT: spec.out, ...env } });

  it("--broker replaces a module's own broker but keeps its middleware (Results: storeResults stays a known option)", async () => {
    const url = `sqlite://${join(spec.dir, "jobs.sqlite")}`;
    const run = start(["spec/fixtures/cli-results-app.ts", "--processes", "2", "--broker", url]);
    const boot = await run.waitFor(isBootLine);
    expect(boot.msg).to.include(`broker SqliteBroker ${url};`);
    const producer = new SqliteBroker({ url, middleware: [] });
    try {
      producer.declareQueue("cli-results");
      for (let i = 0; i < 4; i++) await producer.enqueue(new Message({ queueName: "cli-results", actorName: "add", args: [i, 10] }));
      await producer.join("cli-results", { timeout: 10_000 });
    } finally {
      await producer.close();
    }
    expect(lines(spec.out).map((l) => l.split(" ").slice(1).join(" ")).sort()).to.deep.equal(["add 10", "add 11", "add 12", "add 13"]);
    expect(await run.stop()).to.equal(0);
    expect(run.stderr()).not.to.include("unknown option");
  });

  it("--no-scheduler: worker processes enqueue no cron ticks (without it, they do)", async () => {
    const off = start(["spec/fixtures/cli-schedule-app.ts", "--processes", "1", "--broker", "memory://", "--no-scheduler"]);
    await off.waitFor("Scheduler off (--no-scheduler): this process enqueues no cron ticks");
    await off.waitFor(isBootLine);
    // The same app with the scheduler on ticks every second, in its own out file.
    const onOut = join(spec.dir, "on.txt");
    const on = start(["spec/fixtures/cli-schedule-app.ts", "--processes", "1", "--broker", "memory://"], { CLI_SPEC_OUT: onOut });
    await on.waitFor("Scheduler started");
    await until(() => lines(onOut).length >= 2, 5_000);
    expect(lines(spec.out)).to.deep.equal([]);
    expect(off.lines.some((l) => l.msg === "Scheduler started")).to.equal(false);
    for (const run of [off, on]) run.signal("SIGTERM");
    expect(await off.exited()).to.equal(0);
    expect(await on.exited()).to.equal(0);
  });
});
