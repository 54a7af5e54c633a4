import Database from "better-sqlite3";
import { expect } from "chai";
import type { ChildProcess } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { SqliteBroker } from "../../brokers/sqlite/index.ts";
import { Message } from "../../lib/index.ts";
import { tempDatabase, waitFor } from "../fixtures/sqlite-files.ts";
import { spawnFixture } from "../helpers/fixture-process.ts";

/** Starts a fixture under tsx; resolves once it printed `readyLine`. Its stdout lines are collected. */
async function startFixture(name: string, env: Record<string, string>, readyLine: string): Promise<{ child: ChildProcess; lines: string[] }> {
  const { child, lines } = spawnFixture(name, env);
  let stderr = "";
  child.stderr!.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  await waitFor(() => {
    if (child.exitCode !== null) throw new Error(`${name} exited with ${child.exitCode} before it was ready: ${stderr}`);
    return lines.includes(readyLine);
  }, 15_000, `${name} to print ${readyLine}`);
  return { child, lines };
}

const exited = (child: ChildProcess) =>
  new Promise<number | null>((resolve) => (child.exitCode !== null || child.signalCode !== null ? resolve(child.exitCode) : child.once("exit", (code) => resolve(code))));

describe("SqliteBroker across processes", function () {
  this.timeout(30_000);
  let db: ReturnType<typeof tempDatabase>;
  let broker: SqliteBroker;
  const children: ChildProcess[] = [];

  beforeEach(() => {
    db = tempDatabase();
    broker = new SqliteBroker({ path: db.path, middleware: [] });
  });

  afterEach(async () => {
    for (const child of children.splice(0)) {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
      await exited(child);
    }
    await broker.close();
    db.cleanup();
  });

  it("processes every message after a worker process is killed with SIGKILL mid-run", async () => {
    const total = 300;
    const log = join(db.dir, "runs.log");
    writeFileSync(log, "");
    broker.declareQueue("fault");
    for (let n = 0; n < total; n++) await broker.enqueue(new Message({ queueName: "fault", actorName: "fault_work", args: [n] }));

    const env = { SQLITE_PATH: db.path, RUN_LOG: log, LEASE_TIME: "1000", WORK_MS: "30" };
    const doomed = await startFixture("sqlite-worker.ts", env, "ready");
    const survivor = await startFixture("sqlite-worker.ts", env, "ready");
    children.push(doomed.child, survivor.child);
    const runs = () => readFileSync(log, "utf8").split("\n").filter(Boolean).map((line) => line.split(" ").map(Number) as [number, number]);
    const doomedPid = doomed.child.pid!;
    await waitFor(() => runs().filter(([pid]) => pid === doomedPid).length >= 10, 10_000, "the doomed worker to be mid-run");

    doomed.child.kill("SIGKILL");
    await exited(doomed.child);
    // Mid-run indeed: the dead worker still holds leases nobody gave back.
    const file = new Database(db.path, { readonly: true });
    const orphaned = file.prepare("SELECT json_extract(body, '$.args[0]') FROM dramats_messages WHERE owner LIKE ?").pluck().all(`${doomedPid}-%`) as number[];
    file.close();
    expect(orphaned.length).to.be.above(0);
    // The window (prefetch 10, running ones included) bounds what the worker held unfinished. A
    // finished message frees its room when its ack is on its way, so held rows may also include
    // finished ones whose ack had not reached the file yet (the README's duplicate bound).
    const finishedByDoomed = new Set(runs().filter(([pid]) => pid === doomedPid).map(([, n]) => n));
    expect(orphaned.filter((n) => !finishedByDoomed.has(n)).length).to.be.within(0, 10);

    await broker.join("fault", { timeout: 20_000 });
    const done = runs();
    const counts = new Map<number, number>();
    for (const [, n] of done) counts.set(n, (counts.get(n) ?? 0) + 1);
    expect([...counts.keys()].sort((a, b) => a - b)).to.deep.equal([...Array(total).keys()]);
    // Only what the dead worker held may run twice, and what it held was run by the survivor.
    const twice = [...counts].filter(([, c]) => c > 1).map(([n]) => n);
    expect(twice.every((n) => orphaned.includes(n))).to.equal(true);
    const survivorPid = survivor.child.pid!;
    for (const n of orphaned) expect(done.some(([pid, m]) => pid === survivorPid && m === n)).to.equal(true);
    expect(await broker.depths("fault")).to.deep.include({ ready: 0, delayed: 0, inFlight: 0, dead: 0 });

    survivor.child.kill("SIGTERM");
    expect(await exited(survivor.child)).to.equal(0);
  });

  for (const { watch, maxPoll, what } of [
    { watch: "1", maxPoll: "10000", what: "from the -wal file's change events" },
    { watch: "0", maxPoll: "50", what: "by polling data_version when file events are off" },
  ]) {
    it(`wakes an idle consumer in another process ${what}`, async () => {
      broker.declareQueue("wake");
      const waiter = await startFixture("sqlite-waiter.ts", { SQLITE_PATH: db.path, WATCH: watch, MAX_POLL: maxPoll }, "waiting");
      children.push(waiter.child);
      await new Promise((r) => setTimeout(r, 200));
      await broker.enqueue(new Message({ queueName: "wake", actorName: "wake_up", args: [] }));
      await exited(waiter.child);
      const result = JSON.parse(waiter.lines.find((line) => line.startsWith("{"))!) as { got: number; elapsed: number };
      expect(result.got).to.equal(1);
      // The fetch waits up to 20 s, and the watched case polls only every 10 s: only a wake-up is this quick.
      expect(result.elapsed).to.be.below(5_000);
    });
  }
});
