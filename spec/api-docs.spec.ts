// The API reference (`npm run docs`) is built from the TSDoc comments by TypeDoc with the
// settings of typedoc.json, which turn every warning into an error: an export without a
// comment, a {@link} to nothing, a public signature naming an unexported type. This runs the
// same check without writing the HTML, so `npm test` fails where `npm run docs` would.
import { expect } from "chai";
import { execFile } from "node:child_process";
import { promisify } from "node:util";

const run = promisify(execFile);

describe("API reference (TypeDoc)", function () {
  // TypeDoc compiles the package: about 15 s alone, more on a loaded machine.
  this.timeout(120_000);

  it("builds from typedoc.json with no warning (every export documented, every link resolved)", async () => {
    const result = await run(process.execPath, ["node_modules/typedoc/bin/typedoc", "--emit", "none"], { env: { ...process.env, NO_COLOR: "1", FORCE_COLOR: "0" }, maxBuffer: 16 * 1024 * 1024 }).then(
      ({ stdout, stderr }) => ({ ok: true, output: `${stdout}${stderr}` }),
      (error: { stdout?: string; stderr?: string; message: string }) => ({ ok: false, output: `${error.stdout ?? ""}${error.stderr ?? ""}` || error.message }),
    );
    const warnings = result.output.split("\n").filter((line) => /\[(warning|error)\]/.test(line));
    expect(warnings, "run `npm run docs` to see them").to.deep.equal([]);
    expect(result.ok, result.output).to.equal(true);
  });
});
