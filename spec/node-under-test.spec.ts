// CI runs this suite on several Node versions (.ci/node-versions.sh) by putting each first in PATH.
// Specs spawn process.execPath, but some run `npm`, `npx` or `sh -c` commands, whose `node` is
// the first one in PATH: it must be the Node running the suite, or those specs test another Node.
import { expect } from "chai";
import { execFile } from "node:child_process";
import { promisify } from "node:util";

const run = promisify(execFile);

describe("the Node under test", function () {
  this.timeout(30_000);

  it("is the `node` of `sh -c` commands", async () => {
    const { stdout } = await run("sh", ["-c", "node -p process.version"]);
    expect(stdout.trim()).to.equal(process.version);
  });

  it("runs npm, npm scripts and npx", async () => {
    const npm = await run("npm", ["exec", "--offline", "--", "node", "-p", "process.version"]);
    expect(npm.stdout.trim(), "npm exec's node").to.equal(process.version);
    const npx = await run("npx", ["--offline", "-c", "node -p process.version"]);
    expect(npx.stdout.trim(), "npx's node").to.equal(process.version);
    // npm itself runs on a node from PATH (#!/usr/bin/env node).
    const self = await run("npm", ["version", "--json"]);
    expect((JSON.parse(self.stdout) as { node: string }).node).to.equal(process.versions.node);
  });
});
