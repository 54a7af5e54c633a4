import { expect } from "chai";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CliError } from "../../lib/cli/exit-codes.ts";
import { removePidFile, writePidFile } from "../../lib/cli/pid-file.ts";

describe("pid file", () => {
  let dir: string;
  let path: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "dramats-pid-"));
    path = join(dir, "dramats.pid");
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const failure = (fn: () => void) => {
    try {
      fn();
    } catch (error) {
      return error as CliError;
    }
    throw new Error("expected a CliError");
  };

  it("is written with mode 644 and removed only while it still names us", () => {
    writePidFile(path, 4242);
    expect(readFileSync(path, "utf8")).to.equal("4242\n");
    expect(statSync(path).mode & 0o777).to.equal(0o644);
    removePidFile(path, 4243);
    expect(existsSync(path)).to.equal(true);
    removePidFile(path, 4242);
    expect(existsSync(path)).to.equal(false);
  });

  it("refuses (exit code 4) a file naming a live process, or holding garbage", () => {
    writeFileSync(path, `${process.ppid}\n`);
    const live = failure(() => writePidFile(path, 4242));
    expect(live.exitCode).to.equal(4);
    expect(live.message).to.include(`belongs to running process ${process.ppid}`);
    writeFileSync(path, "12abc");
    expect(failure(() => writePidFile(path, 4242)).exitCode).to.equal(4);
  });

  it("overwrites a stale file left by a dead process", () => {
    writeFileSync(path, "999999999\n");
    writePidFile(path, 4242);
    expect(readFileSync(path, "utf8")).to.equal("4242\n");
  });

  it("reports an unwritable location with exit code 4", () => {
    expect(failure(() => writePidFile(join(dir, "missing", "x.pid"), 4242)).exitCode).to.equal(4);
  });
});
