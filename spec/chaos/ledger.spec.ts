// The chaos suite's arithmetic: what its ledger reads back and how it counts losses,
// duplicates and recovery times.
import { expect } from "chai";
import { appendFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LedgerReader, LedgerWriter, type LedgerEvent } from "../../chaos/ledger.ts";
import { Tally } from "../../chaos/tally.ts";

const S = (id: string, at: number, pid: number): LedgerEvent => ({ kind: "S", id, at, pid });
const E = (id: string, at: number, pid: number): LedgerEvent => ({ kind: "E", id, at, pid });

describe("chaos ledger", () => {
  let dir = "";
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), "dramats-ledger-"))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("reads each line once, and a line cut short only once it is complete", () => {
    new LedgerWriter(dir).record("S", "m-1");
    const reader = new LedgerReader(dir);
    expect(reader.poll().map((e) => [e.kind, e.id, e.pid])).to.deep.equal([["S", "m-1", process.pid]]);
    const file = join(dir, "ledger-4242.log");
    appendFileSync(file, "E m-2 100 42");
    expect(reader.poll()).to.deep.equal([]);
    appendFileSync(file, "42\n");
    expect(reader.poll()).to.deep.equal([E("m-2", 100, 4242)]);
    expect(reader.poll()).to.deep.equal([]);
  });
});

describe("chaos tally", () => {
  it("counts an id that never finished as lost and finishes beyond the first as duplicates", () => {
    const tally = new Tally();
    tally.add([S("a", 1, 10), E("a", 2, 10), S("a", 3, 11), E("a", 4, 11), E("a", 5, 12), S("b", 1, 10), E("c", 1, 10)]);
    expect(tally.lost(["a", "b", "c"])).to.deep.equal(["b"]);
    expect(tally.duplicated(["a", "b", "c"])).to.equal(2);
    expect(tally.processed(["a", "b", "c"])).to.equal(2);
  });

  it("measures a killed process's recovery until one of its unfinished messages starts elsewhere", () => {
    const tally = new Tally();
    // pid 10 finished "a", was killed at 100 while running "b" and "c"; "c" restarts at 350.
    tally.add([S("a", 10, 10), E("a", 20, 10), S("b", 50, 10), S("c", 60, 10), S("x", 120, 11), S("c", 350, 11), S("b", 900, 11)]);
    expect([...tally.unfinished(10)].sort()).to.deep.equal(["b", "c"]);
    expect(tally.rerunAfterKill(10, 100)).to.equal(250);
    // A process that finished all it started leaves nothing to recover.
    tally.add([S("y", 40, 13), E("y", 60, 13)]);
    expect(tally.rerunAfterKill(13, 100)).to.equal(undefined);
    // A run the killed process started as the signal was on its way counts too.
    tally.add([S("d", 101, 10), S("d", 180, 11)]);
    expect(tally.rerunAfterKill(10, 100)).to.equal(80);
    tally.add([S("z", 200, 12)]);
    expect(tally.rerunAfterKill(12, 300)).to.equal(Infinity);
  });

  it("measures a restart until a new process runs, and a connection kill until starts are back to half their rate", () => {
    const tally = new Tally();
    // 40 starts in the 2 s before the fault (5 per 250 ms), then nothing until 2600, then the same rate.
    const before = Array.from({ length: 40 }, (_, i) => S(`p${i}`, 1000 + i * 50, 10));
    const after = Array.from({ length: 10 }, (_, i) => S(`q${i}`, 3600 + i * 50, 20));
    tally.add([...before, ...after]);
    expect(tally.firstRunByNewProcess(new Set([10]), 3000)).to.equal(600);
    // Half the rate is 2.5 starts per 250 ms: the third start after the gap (3700) completes it.
    expect(tally.throughputResumed(3000)).to.equal(700);
    expect(tally.throughputResumed(500)).to.equal(undefined);
  });

  it("ends a connection kill's recovery at the last start when the queue ran out before the rate came back", () => {
    const tally = new Tally();
    tally.add([...Array.from({ length: 40 }, (_, i) => S(`p${i}`, 1000 + i * 50, 10)), S("last1", 3100, 10), S("last2", 3400, 10)]);
    expect(tally.throughputResumed(3000)).to.equal(400);
    expect(tally.throughputResumed(3500)).to.equal(undefined);
  });
});
