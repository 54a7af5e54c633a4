// The README's main job: on a fresh machine one command installs dramats and runs the quick
// start end to end on the embedded SQLite broker. This runs that command (the part after
// `npm ci`, with the installed node_modules linked in) in a temporary copy of the repository,
// with no broker configured anywhere in the environment.
import { expect } from "chai";
import { execFile } from "node:child_process";
import { existsSync, readdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { copyRepository, isLocalDatabase } from "./helpers/repo-copy.ts";
import { deleteNamespace, uniqueNamespace } from "./helpers/redis.ts";
import { afterNpmCi, privateRedis, readmeLine, sh, userEnv } from "./readme/commands.ts";

/** The main-job line of the README's "Set up" block, after its `npm ci && ` (spec/readme/commands.ts). */
function mainJob(): { command: string } {
  return { command: afterNpmCi(readmeLine("README.md", "npm ci && npm run quickstart")) };
}

describe("README main job", function () {
  this.timeout(60_000);
  let copy: string;

  before(() => {
    copy = copyRepository("dramats-main-job-");
  });
  after(() => {
    rmSync(copy, { recursive: true, force: true });
  });

  it("runs the quick start end to end on the embedded SQLite broker: a worker starts, jobs run, results print, the worker exits cleanly", async () => {
    const { command } = mainJob();
    expect(command).to.match(/^npm run quickstart\s+# /);
    const env = Object.fromEntries(
      Object.entries(process.env).filter(([name]) => !/^(DRAMATS_|REDIS_URL$|AMQP_URL$)/.test(name)),
    );
    const { stdout, stderr, code } = await new Promise<{ stdout: string; stderr: string; code: number | null }>((resolve) => {
      execFile("sh", ["-c", command], { cwd: copy, env, timeout: 50_000 }, (error, stdout, stderr) =>
        resolve({ stdout, stderr, code: error ? ((error as { code?: number }).code ?? 1) : 0 }),
      );
    });
    expect(code, `exit code; stderr:\n${stderr}\nstdout:\n${stdout}`).to.equal(0);
    const lines = stdout.split("\n");
    const boot = lines.find((l) => l.startsWith("[dramats] dramats booted:"));
    expect(boot, stdout).to.match(/broker SqliteBroker sqlite:\/\/\.\/dramats\.sqlite \(the default: .*\); queues quickstart; actors add, greet, flakyPing; 2 processes/);
    expect(lines).to.include.members([
      "add(2, 3) = 5",
      'greet("Ada") = "Hello, Ada!"',
      'greet("Alan", "fr"), 500 ms later = "Bonjour, Alan !"',
      'flakyPing("example.org") = "pong from example.org (attempt 2)"',
      "[dramats] All worker processes stopped",
      "[dramats] exited with code 0",
    ]);
    // Results come after the jobs are sent and before the workers stop.
    expect(lines.indexOf('flakyPing("example.org") = "pong from example.org (attempt 2)"')).to.be.lessThan(lines.indexOf("[dramats] exited with code 0"));
    // Nothing went wrong on the way (npm's own notices aside).
    expect(stderr.split("\n").filter((l) => l.trim() && !l.startsWith("npm warn"))).to.deep.equal([]);
    // It worked in a folder of its own: nothing left in the checkout.
    expect(readdirSync(copy).filter(isLocalDatabase)).to.deep.equal([]);
    expect(existsSync(join(copy, "dramats.sqlite"))).to.equal(false);
  });

  it("runs the same quick start on Redis with `DRAMATS_BROKER=redis://... npm run quickstart`", async () => {
    const namespace = uniqueNamespace("dramats-quickstart");
    try {
      const { code, stdout, stderr } = await sh(privateRedis(readmeLine("README.md", "DRAMATS_BROKER=redis://127.0.0.1:6379 npm run quickstart"), namespace), copy, userEnv(), 50_000);
      expect(code, `exit code; stderr:\n${stderr}\nstdout:\n${stdout}`).to.equal(0);
      const lines = stdout.split("\n");
      expect(lines.find((l) => l.startsWith("[dramats] dramats booted:")), stdout).to.match(new RegExp(`broker RedisBroker redis://127\\.0\\.0\\.1:6379\\S*namespace=${namespace}`));
      expect(lines).to.include.members(['flakyPing("example.org") = "pong from example.org (attempt 2)"', "[dramats] exited with code 0"]);
    } finally {
      await deleteNamespace(namespace);
    }
  });
});
