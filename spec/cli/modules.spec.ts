import { expect } from "chai";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { CliError } from "../../lib/cli/exit-codes.ts";
import { importModules, resolveModule, withWorkerV8Defaults, workerExecArgv } from "../../lib/cli/modules.ts";
import { ROOT } from "./run-cli.ts";

describe("module resolution for the CLI", () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), "dramats-modules-"));
    mkdirSync(join(dir, "app", "jobs"), { recursive: true });
    writeFileSync(join(dir, "app", "actors.ts"), "export {};\n");
    writeFileSync(join(dir, "app", "jobs", "index.js"), "export {};\n");
    writeFileSync(join(dir, "app", "broken.mjs"), "throw new RangeError('bad config');\n");
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  const url = (path: string) => pathToFileURL(join(dir, path)).href;

  it("finds files with or without their extension, and folders by their index", () => {
    expect(resolveModule("app/actors.ts", dir)).to.deep.equal({ spec: "app/actors.ts", url: url("app/actors.ts"), typescript: true });
    expect(resolveModule("app/actors", dir).url).to.equal(url("app/actors.ts"));
    expect(resolveModule("./app/jobs", dir)).to.deep.equal({ spec: "./app/jobs", url: url("app/jobs/index.js"), typescript: false });
  });

  it("resolves package names from the working directory", () => {
    const pino = resolveModule("pino", ROOT);
    expect(pino.url).to.match(/^file:\/\/.*\/node_modules\/pino\//);
  });

  it("fails with exit code 2 for a path or a name that leads nowhere", () => {
    for (const spec of ["./app/missing", "app/missing.ts", "no-such-package-here"]) {
      let error: unknown;
      try {
        resolveModule(spec, dir);
      } catch (e) {
        error = e;
      }
      expect(error, spec).to.be.instanceOf(CliError);
      expect((error as CliError).exitCode).to.equal(2);
      expect((error as CliError).message).to.match(/^Module not found: /);
    }
  });

  it("reports an import that throws as one paragraph with the user's frame", async () => {
    const error = await importModules([resolveModule("app/broken.mjs", dir)]).then(() => undefined, (e: unknown) => e as CliError);
    expect(error?.exitCode).to.equal(2);
    expect(error?.message).to.match(/^Could not import app\/broken\.mjs: RangeError: bad config\n {4}at .*broken\.mjs:1/);
  });

  it("adds tsx's loader for TypeScript modules unless it is already loaded", () => {
    const ts = [resolveModule("app/actors.ts", dir)];
    const js = [resolveModule("app/jobs", dir)];
    const saved = process.env.NODE_OPTIONS;
    delete process.env.NODE_OPTIONS;
    try {
      expect(workerExecArgv(js, [])).to.deep.equal([]);
      const args = workerExecArgv(ts, ["--enable-source-maps"]);
      expect(args.slice(0, 2)).to.deep.equal(["--enable-source-maps", "--import"]);
      expect(args[2]).to.match(/^file:\/\/.*\/tsx\/dist\/loader\.mjs$/);
      expect(workerExecArgv(ts, ["--import", "tsx"])).to.deep.equal(["--import", "tsx"]);
    } finally {
      if (saved !== undefined) process.env.NODE_OPTIONS = saved;
    }
  });

  it("caps the young generation and V8's thread pool of worker processes unless the user sized them", () => {
    expect(withWorkerV8Defaults(["--enable-source-maps"], "")).to.deep.equal(["--enable-source-maps", "--max-semi-space-size=2", "--v8-pool-size=1"]);
    expect(withWorkerV8Defaults(["--max-semi-space-size=8"], "")).to.deep.equal(["--max-semi-space-size=8", "--v8-pool-size=1"]);
    expect(withWorkerV8Defaults(["--max_semi_space_size=8"], "")).to.deep.equal(["--max_semi_space_size=8", "--v8-pool-size=1"]);
    expect(withWorkerV8Defaults([], "--max-old-space-size=512 --max-semi-space-size=16 --v8-pool-size=4")).to.deep.equal([]);
  });
});
