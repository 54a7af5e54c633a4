// The spec run itself: mocha is not told to force an exit, so a suite that leaves something
// open hangs, and spec/helpers/setup.ts says what is still open.
import { expect } from "chai";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { runCli } from "./cli/run-cli.ts";

const MOCHA = fileURLToPath(new URL("../node_modules/mocha/bin/mocha.js", import.meta.url));

describe("the spec run", function () {
  this.timeout(30_000);

  it("does not force the process to exit (.mocharc.json has no `exit`)", () => {
    const config = JSON.parse(readFileSync(fileURLToPath(new URL("../.mocharc.json", import.meta.url)), "utf8")) as Record<string, unknown>;
    expect(config).not.to.have.property("exit");
  });

  it("names what keeps node alive when a suite leaves something open", async () => {
    const run = runCli(["spec/fixtures/leaking-suite.ts"], { command: [process.execPath, MOCHA] });
    try {
      await run.waitFor((line) => /^1 passing/.test(String(line.msg).trim()), 20_000);
      const deadline = Date.now() + 20_000;
      while (!run.stderr().includes("still open")) {
        if (Date.now() > deadline) throw new Error(`no report of what is open; stderr: ${run.stderr()}`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      expect(run.stderr()).to.match(/The specs are done but node is still running 5000 ms later; still open: \[.*"Timeout".*\]/);
      expect(run.child.exitCode, "still running: the interval holds it").to.equal(null);
    } finally {
      run.destroy();
    }
  });
});
