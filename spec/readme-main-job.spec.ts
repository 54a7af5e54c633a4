// The README's main job: on a fresh machine one command installs dramats and runs the quick
// start end to end on the embedded SQLite broker. This runs that command (the part after
// `npm ci`, with the installed node_modules linked in) in a temporary copy of the repository,
// with no broker configured anywhere in the environment.
import { expect } from "chai";
import { execFile } from "node:child_process";
import { existsSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { copyRepository, isLocalDatabase, ROOT } from "./helpers/repo-copy.ts";

/** The main-job line of the README's "Set up" block, split at `npm ci && `. */
function mainJob(): { command: string } {
  const readme = readFileSync(join(ROOT, "README.md"), "utf8");
  const setUp = /## Set up\n+```sh\n([\s\S]*?)```/.exec(readme)?.[1];
  expect(setUp, "README has a Set up block").to.be.a("string");
  const line = setUp!.split("\n").find((l) => l.includes("quickstart"));
  expect(line, "the Set up block runs the quick start").to.be.a("string");
  const match = /^npm ci && (.+?)\s*(#.*)?$/.exec(line!);
  expect(match, `"${line}" installs with npm ci, then runs the quick start`).not.to.equal(null);
  return { command: match![1]! };
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
    expect(command).to.equal("npm run quickstart");
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
});
