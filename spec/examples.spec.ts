import { expect } from "chai";
import { execFile } from "node:child_process";
import { promisify } from "node:util";

const run = promisify(execFile);

describe("examples", () => {
  it("quickstart: sends, delays and retries messages on the stub broker", async () => {
    const { stdout } = await run(process.execPath, ["--import", "tsx", "examples/quickstart/main.ts"], {
      env: { ...process.env, DRAMATS_LOG_LEVEL: "silent" },
    });
    expect(stdout.trim().split("\n")).to.deep.equal(["pong from example.org", "welcome u1 (en)", "welcome u2 (fr)"]);
  });
});
