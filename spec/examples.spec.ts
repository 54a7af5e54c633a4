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

  it("workflows: results, pipelines, groups, a chord, a rate limit and a cancellation", async () => {
    const { stdout } = await run(process.execPath, ["--import", "tsx", "examples/workflows/main.ts"], {
      env: { ...process.env, DRAMATS_LOG_LEVEL: "silent" },
    });
    const lines = stdout.trim().split("\n");
    // The chord's callback runs whenever its last member finishes, so its line may come anywhere.
    expect(lines).to.have.length(6);
    expect(lines).to.include.members(["result: 5", "pipeline: 12", "group: [2,4,6]", "chord fired: both added", "rate limited: [1,2,3,4]"]);
    expect(lines.find((l) => l.startsWith("cancelled"))).to.match(/^cancelled: actor raised MessageCancelled: Message [0-9a-f-]{36} was cancelled$/);
  });

  it("cron: a periodic actor runs once per tick", async () => {
    const { stdout } = await run(process.execPath, ["--import", "tsx", "examples/cron/main.ts"], {
      env: { ...process.env, DRAMATS_LOG_LEVEL: "silent" },
    });
    expect(stdout.trim()).to.match(/^ticks: [23], one second apart: true$/);
  });
});
