// The README's Performance lines, run as written (spec/readme/commands.ts) in a copy of the
// repository with BENCH_SMOKE=1 in the environment: every script, subject and tool runs, on a
// 1,000 messages in one round (the full bench takes minutes; bench/lib/config.ts). The copy
// is a git repository of two commits, for `ab --base HEAD~1`, with a node_modules of its own whose
// entries link to the installed packages, so the bench's builds (node_modules/.cache) go with it.
// The bench names its Redis keys and RabbitMQ queues per run and deletes them, so its REDIS_URL
// is left as written.
import { expect } from "chai";
import { execFile } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { copyRepository } from "./helpers/repo-copy.ts";
import { readmeLine, ROOT, sh, userEnv } from "./readme/commands.ts";

const run = promisify(execFile);
const README = "README.md";

describe("the README's bench commands (BENCH_SMOKE=1)", function () {
  this.timeout(300_000);
  let copy: string;
  const env = userEnv({ BENCH_SMOKE: "1" });
  const bench = async (line: string) => {
    const ran = await sh(line, copy, env, 280_000);
    expect(ran.code, `${line}\n${ran.stdout}\n${ran.stderr}`).to.equal(0);
    return ran.stdout;
  };

  before(async () => {
    copy = copyRepository("dramats-bench-");
    rmSync(join(copy, "node_modules"));
    mkdirSync(join(copy, "node_modules"));
    for (const name of readdirSync(join(ROOT, "node_modules"))) {
      if (name !== ".cache") symlinkSync(join(ROOT, "node_modules", name), join(copy, "node_modules", name));
    }
    const git = (...args: string[]) => run("git", ["-c", "user.name=spec", "-c", "user.email=spec@localhost", ...args], { cwd: copy });
    await git("init", "-q");
    await git("add", "-A");
    await git("commit", "-qm", "working tree");
    await git("commit", "-q", "--allow-empty", "-m", "the commit ab compares HEAD~1 with");
  });
  after(() => {
    rmSync(copy, { recursive: true, force: true });
  });

  it("npm run bench, with the servers' URLs: every script, then the summary in bench/results/latest.json", async () => {
    const out = await bench(readmeLine(README, "AMQP_URL=amqp://guest:guest@127.0.0.1:5672 npm run bench"));
    expect(out).to.include("== throughput").and.to.include("== latency").and.to.include("== threads").and.to.include("== dashboard").and.to.include("== postgres").and.to.include("== summary");
    const latest = JSON.parse(readFileSync(join(copy, "bench", "results", "latest.json"), "utf8")) as Record<string, unknown>;
    expect(latest).to.include.keys("meta", "summary", "throughput", "latency", "threads", "dashboard", "postgres");
  });

  it("npm run bench -- --quick", async () => {
    expect(await bench(readmeLine(README, "npm run bench -- --quick"))).to.include("== summary");
  });

  it("npm run bench -- latency", async () => {
    const out = await bench(readmeLine(README, "npm run bench -- latency"));
    expect(out).to.include("idle latency:").and.not.to.include("== throughput");
  });

  it("npm run bench -- ab --base HEAD~1", async () => {
    expect(await bench(readmeLine(README, "npm run bench -- ab --base HEAD~1"))).to.match(/A\/B: [0-9a-f]+ \(base\) vs working tree \(new\)/);
  });

  it("npm run bench -- profile", async () => {
    expect(await bench(readmeLine(README, "npm run bench -- profile"))).to.include("function (self time)");
    expect(existsSync(join(copy, "node_modules", ".cache"))).to.equal(true);
  });
});
