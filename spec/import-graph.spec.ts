import { expect } from "chai";
import { execFile } from "node:child_process";
import { promisify } from "node:util";

const run = promisify(execFile);

describe("Import graph", function () {
  this.timeout(120_000);

  it("has no value import cycle, and the core (lib/ but the CLI, the dashboard and the package entry) imports no middleware policy", async () => {
    // The rules live in .dependency-cruiser.cjs; depcruise exits non-zero on any violation.
    const result = await run(process.execPath, ["node_modules/dependency-cruiser/bin/dependency-cruise.mjs", "--output-type", "err", "lib", "middleware", "brokers"]).then(
      ({ stdout }) => ({ ok: true, output: stdout }),
      (error: { stdout?: string; stderr?: string }) => ({ ok: false, output: `${error.stdout ?? ""}${error.stderr ?? ""}` }),
    );
    expect(result.output).to.include("no dependency violations found");
    expect(result.ok, result.output).to.equal(true);
  });
});
