// `npm run interop:python` (interop/, not part of npm test) needs Python Dramatiq 2.2.0's source at
// DRAMATIQ_SRC. Without it, it must stop at once with the reason and how to get the source, never
// run checks that fail for a reason they do not name.
import { expect } from "chai";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { readmeLine, ROOT, sh, userEnv } from "../readme/commands.ts";

const HOW = "git clone https://github.com/Bogdanp/dramatiq && mkdir -p /path/to/dramatiq-2.2.0 && git -C dramatiq archive v2.2.0 | tar -x -C /path/to/dramatiq-2.2.0";

describe("npm run interop:python without Dramatiq's source", function () {
  this.timeout(60_000);

  it("the README's line, with nothing at /path/to/dramatiq-2.2.0, exits 2 naming the path and how to get the source", async () => {
    const ran = await sh(readmeLine("README.md", "npm run interop:python"), ROOT, userEnv());
    expect(ran.code, ran.stderr).to.equal(2);
    expect(ran.stderr).to.contain("DRAMATIQ_SRC=/path/to/dramatiq-2.2.0 does not hold Dramatiq's source").and.contain(HOW);
    expect(ran.stdout).not.to.contain("passing");
  });

  it("with DRAMATIQ_SRC unset, exits 2 saying it must be set", async () => {
    const env = userEnv();
    delete env.DRAMATIQ_SRC;
    const ran = await sh("npm run interop:python", ROOT, env);
    expect(ran.code, ran.stderr).to.equal(2);
    expect(ran.stderr).to.contain("DRAMATIQ_SRC is not set").and.contain(HOW);
  });

  it("with another Dramatiq version there, exits 2 naming the version found", async () => {
    const dir = mkdtempSync(join(tmpdir(), "dramats-interop-src-"));
    try {
      mkdirSync(join(dir, "dramatiq"));
      writeFileSync(join(dir, "dramatiq", "__init__.py"), '__version__ = "1.17.0"\n');
      const ran = await sh("npm run interop:python", ROOT, userEnv({ DRAMATIQ_SRC: dir }));
      expect(ran.code, ran.stderr).to.equal(2);
      expect(ran.stderr).to.contain(`DRAMATIQ_SRC=${dir} holds Dramatiq 1.17.0, not 2.2.0`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
