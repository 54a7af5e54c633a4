// The published shape: `tsc -p tsconfig.build.json` output, run as an executable through its
// shebang, loading an app that imports the compiled library (as `import "dramats"` would).
import { expect } from "chai";
import { execFile } from "node:child_process";
import { chmodSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { promisify } from "node:util";
import { cliSpec, isBootLine, ROOT, runs, until } from "./run-cli.ts";

const run = promisify(execFile);
// Inside node_modules, so the build resolves dramats' own dependencies as an install would.
const BUILD = join(ROOT, "node_modules", ".cache", `dramats-bin-spec-${process.pid}`);
const BIN = join(BUILD, "lib", "cli", "main.js");

describe("the compiled dramats bin", function () {
  this.timeout(90_000);
  const spec = cliSpec("dramats-bin-");

  before(async () => {
    await run(process.execPath, [join(ROOT, "node_modules", "typescript", "bin", "tsc"), "-p", "tsconfig.build.json", "--outDir", BUILD], { cwd: ROOT });
    chmodSync(BIN, 0o755);
  });
  after(() => {
    rmSync(BUILD, { recursive: true, force: true });
  });

  /** An app module (in an ES module package) importing the compiled library; `ts` adds type annotations. */
  function writeApp(name: string, ts: boolean): string {
    const lib = pathToFileURL(join(BUILD, "lib", "index.js")).href;
    const stub = pathToFileURL(join(BUILD, "brokers", "stub.js")).href;
    const n = ts ? "n: number" : "n";
    writeFileSync(join(spec.dir, "package.json"), '{ "type": "module" }\n');
    const path = join(spec.dir, name);
    writeFileSync(
      path,
      `import { appendFileSync } from "node:fs";\n` +
        `import { isMainThread, threadId } from "node:worker_threads";\n` +
        `import { actor, setBroker } from ${JSON.stringify(lib)};\n` +
        `import { StubBroker } from ${JSON.stringify(stub)};\n` +
        `const out = process.env.CLI_SPEC_OUT;\n` +
        `setBroker(new StubBroker());\n` +
        `export const hello = actor(function hello(${n}) { appendFileSync(out, process.pid + " hello " + n + " " + threadId + "\\n"); }, { queueName: "bin" });\n` +
        `export const heavy = actor(function heavy(${n}) { appendFileSync(out, process.pid + " heavy " + n + " " + threadId + "\\n"); }, { queueName: "bin", threaded: true });\n` +
        `if (isMainThread) { await hello.send(1); await heavy.send(2); }\n`,
    );
    return path;
  }

  it("starts with a node shebang", () => {
    expect(readFileSync(BIN, "utf8").split("\n")[0]).to.equal("#!/usr/bin/env node");
  });

  for (const ts of [false, true]) {
    it(`runs a ${ts ? "TypeScript (through tsx)" : "JavaScript"} app, threaded actors included, and stops on SIGTERM`, async () => {
      const out = spec.out;
      const app = writeApp(ts ? "app.ts" : "app.js", ts);
      const cli = spec.start([app, "--processes", "1", "--cpu-threads", "1", "--heartbeat-interval", "100", "--heartbeat-timeout", "5000"], {
        command: [BIN],
        cwd: spec.dir,
        env: { CLI_SPEC_OUT: out, NODE_OPTIONS: "" },
      });
      const boot = await cli.waitFor(isBootLine, 30_000);
      expect(boot.msg).to.include("actors hello, heavy (threaded);");
      await until(() => runs(out).length === 2);
      const byActor = new Map(runs(out).map((r) => [r.actor, r]));
      expect(byActor.get("hello")!.threadId).to.equal(0);
      expect(byActor.get("heavy")!.threadId).to.be.above(0);
      expect(await cli.stop()).to.equal(0);
    });
  }
});
