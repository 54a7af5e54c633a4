// The chaos suite can fail: the same tiny run passes, and with the app leaving runs out of its
// ledger (--break, as if those messages were lost) the table shows them lost and the exit is 1.
// The first two are chaos/README.md's command lines, run as written from the repository's folder.
import { expect } from "chai";
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { tsxEntry } from "../../lib/threads/tsx.ts";
import { readmeLine, ROOT, sh } from "../readme/commands.ts";

const MAIN = fileURLToPath(new URL("../../chaos/main.ts", import.meta.url));
const README = "chaos/README.md";

function chaos(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ["--import", tsxEntry(".")!, MAIN, "--profile", "tiny", ...args], { cwd: ROOT, timeout: 110_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? ((error as { code?: number }).code ?? -1) : 0, stdout, stderr });
    });
  });
}

/** A README line through `sh -c`; the chaos run uses REDIS_URL and AMQP_URL as CI sets them. */
async function readme(line: string): Promise<{ code: number; stdout: string; stderr: string }> {
  const ran = await sh(line, ROOT, process.env, 110_000);
  return { ...ran, code: ran.code ?? -1 };
}

/** The table row of a scenario, as cells. */
function cells(stdout: string, scenario: string): string[] {
  const line = stdout.split("\n").find((l) => l.startsWith(`| ${scenario} |`));
  expect(line, stdout).to.be.a("string");
  return line!.split("|").slice(1, -1).map((c) => c.trim());
}

describe("npm run chaos", function () {
  this.timeout(120_000);

  it("exits 0 with nothing lost when every run reaches the ledger", async () => {
    const { code, stdout, stderr } = await readme(readmeLine(README, "--scenario poison           #"));
    expect(code, stdout + stderr).to.equal(0);
    const [, sent, processed, lost, , , , , , result] = cells(stdout, "poison among good messages");
    expect([sent, processed, lost, result]).to.deep.equal(["200", "200", "0", "ok"]);
  });

  it("reports the runs the ledger misses as lost and exits 1 (--break)", async () => {
    const { code, stdout, stderr } = await readme(readmeLine(README, "--scenario poison --break"));
    expect(code, stdout + stderr).to.equal(1);
    const [, sent, processed, lost, , , , , , result] = cells(stdout, "poison among good messages");
    // --break drops every 50th id's record (ids ending in 7, 57, ...): 6 of the 200.
    expect([sent, processed, lost]).to.deep.equal(["200", "194", "6"]);
    expect(result).to.match(/^\*\*FAIL\*\*: 6 lost/);
  });

  it("refuses an unknown scenario with exit 2", async () => {
    const { code, stderr } = await chaos("--scenario", "no-such");
    expect(code).to.equal(2);
    expect(stderr).to.include("Unknown scenario no-such");
  });
});
