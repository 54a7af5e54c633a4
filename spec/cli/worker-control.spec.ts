// Acceptance: the dashboard's stop and restart of one worker process, through its control key
// (lib/worker-control.ts), with the real `dramats` command on real Redis and a real SQLite file.
// Restart: the process stops gracefully and the supervisor starts a fresh one. Stop: the process
// stops and is not replaced; the supervisor exits 0 once none is left.
import { expect } from "chai";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { RedisBroker } from "../../brokers/redis/index.ts";
import { SqliteBroker } from "../../brokers/sqlite/index.ts";
import type { Broker } from "../../lib/broker.ts";
import { InvalidOptions, MemoryKeyValueStore, Message } from "../../lib/index.ts";
import { workerRegistryOf, workerStatus, type WorkerRecord } from "../../lib/worker-registry.ts";
import { pendingWorkerControl, readWorkerControl, requestWorkerControl, workerControlKey } from "../../lib/worker-control.ts";
import { deleteNamespace, redisUrl, uniqueNamespace } from "../helpers/redis.ts";
import { cliSpec, isBootLine, recordsIn, until, type CliRun } from "./run-cli.ts";

const APP = "spec/fixtures/cli-registry-app.ts";
/** Records (and control checks) every second. */
const FAST = ["--threads", "2", "--registry-interval", "1000", "--heartbeat-interval", "100", "--grace", "5000", "--cpu-threads", "1", "--no-metrics"];
/** How long the spec watches for a replacement that must not come (ms): several record periods. */
const WATCH = 3_000;

interface Setup {
  args: string[];
  broker: Broker;
  cleanup(): Promise<void>;
}

const setups: Record<string, (dir: string) => Promise<Setup>> = {
  async redis() {
    const namespace = uniqueNamespace("dramats-cli-control");
    const url = new URL(await redisUrl());
    url.searchParams.set("namespace", namespace);
    const broker = new RedisBroker({ url: await redisUrl(), namespace, middleware: [] });
    return { args: ["--broker", url.href], broker, cleanup: async () => (await broker.close(), void (await deleteNamespace(namespace))) };
  },
  async sqlite(dir) {
    const path = join(dir, "control.sqlite");
    const broker = new SqliteBroker({ path, middleware: [] });
    return { args: ["--broker", `sqlite://${path}`], broker, cleanup: () => broker.close() };
  },
};

for (const [name, setUp] of Object.entries(setups)) {
  describe(`dramats: stop and restart a worker process through its control key on ${name} (acceptance)`, function () {
    this.timeout(60_000);
    const spec = cliSpec("dramats-cli-control-");
    let s: Setup;
    beforeEach(async () => {
      s = await setUp(spec.dir);
    });
    afterEach(async () => {
      spec.destroyAll();
      await s.cleanup();
    });

    const start = (processes: number): CliRun => spec.start([APP, "--processes", String(processes), ...FAST, ...s.args], { env: { CLI_SPEC_OUT: spec.out } });

    /** The registry's records until `check` holds for them. */
    async function recordsUntil(check: (records: WorkerRecord[]) => boolean, what: string, timeout = 20_000): Promise<WorkerRecord[]> {
      const registry = workerRegistryOf(s.broker)!;
      const deadline = Date.now() + timeout;
      for (;;) {
        const records = await registry.list();
        if (check(records)) return records;
        if (Date.now() > deadline) throw new Error(`the registry never showed ${what}: ${JSON.stringify(records.map((r) => [r.id, r.state]))}`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
    const live = (records: WorkerRecord[]) => records.filter((r) => workerStatus(r) === "live");

    it("restart: the process stops gracefully and the supervisor starts a fresh one; the old record goes stopped", async () => {
      const run = start(1);
      await run.waitFor(isBootLine);
      const [old] = await recordsUntil((r) => live(r).length === 1, "one live worker");
      s.broker.declareQueue("cli-registry");
      await s.broker.enqueue(new Message({ queueName: "cli-registry", actorName: "nap", args: ["r1"] }));
      await until(() => recordsIn(spec.out).some(([, event, tag]) => event === "start" && tag === "r1"), 15_000);
      await requestWorkerControl(s.broker.store!, old!.id, "restart", { by: "dashboard" });
      expect(await pendingWorkerControl(s.broker.store!, old!.id)).to.equal("restart");

      const asked = await run.waitFor((l) => typeof l.msg === "string" && l.msg.startsWith("Restart asked by dashboard"));
      expect(asked).to.include({ pid: old!.pid, workerId: old!.id, by: "dashboard", level: 30 });
      // Graceful: the running message finishes in the old process.
      writeFileSync(`${spec.out}.release`, "");
      await run.waitFor((l) => l.msg === "Worker process retired" && l.pid === old!.pid);
      const records = await recordsUntil(
        (r) => r.some((x) => x.id === old!.id && x.state === "stopped") && live(r).some((x) => x.pid !== old!.pid),
        "the old record stopped and a new live one",
      );
      expect(live(records)).to.have.length(1);
      expect(records.find((x) => x.id === old!.id)!.counters.processed, "the running message finished before the old process left").to.equal(1);
      expect(live(records)[0]!.supervisorPid).to.equal(run.pid);
      expect(await pendingWorkerControl(s.broker.store!, old!.id), "taken up: the key is gone").to.equal(null);
      expect(run.child.exitCode, "the supervisor runs on").to.equal(null);
      expect(await run.stop()).to.equal(0);
    });

    it("stop: the process stops and is not replaced; the supervisor runs on, and exits 0 once the last one is stopped", async () => {
      const run = start(2);
      await run.waitFor(isBootLine);
      const both = await recordsUntil((r) => live(r).length === 2, "two live workers");
      const [first, second] = both;
      await requestWorkerControl(s.broker.store!, first!.id, "stop", { by: "dashboard" });
      const asked = await run.waitFor((l) => typeof l.msg === "string" && l.msg.startsWith("Stop asked by dashboard"));
      expect(asked).to.include({ pid: first!.pid, workerId: first!.id, by: "dashboard", level: 40 });
      await run.waitFor((l) => l.msg === "Worker process is stopping on request; it will not be replaced" && l.pid === first!.pid);
      await run.waitFor((l) => l.msg === "Worker process retired" && l.pid === first!.pid);
      await recordsUntil((r) => r.some((x) => x.id === first!.id && x.state === "stopped"), "the stopped record");

      await new Promise((resolve) => setTimeout(resolve, WATCH));
      const after = await workerRegistryOf(s.broker)!.list();
      expect(live(after).map((r) => r.id), "no replacement").to.deep.equal([second!.id]);
      expect(run.count("Worker started"), "no process started after the first two").to.equal(2);
      expect(run.child.exitCode).to.equal(null);

      await requestWorkerControl(s.broker.store!, second!.id, "stop", { by: "dashboard" });
      expect(await run.exited(20_000)).to.equal(0);
      expect(run.count("Every worker process was stopped on request; the supervisor exits")).to.equal(1);
      const final = await workerRegistryOf(s.broker)!.list();
      expect(final.map((r) => r.state)).to.deep.equal(["stopped", "stopped"]);
    });
  });
}

describe("worker control requests", () => {
  it("are stored under dramats:control:<id>, read back, replaced and refused for bad input", async () => {
    const store = new MemoryKeyValueStore();
    await requestWorkerControl(store, "h/1/x", "stop", { by: "dashboard" });
    expect(await store.get(workerControlKey("h/1/x"))).to.match(/"action":"stop"/);
    await requestWorkerControl(store, "h/1/x", "restart");
    expect(await readWorkerControl(store, "h/1/x")).to.include({ action: "restart", by: "unknown" });
    expect(await pendingWorkerControl(store, "h/2/y")).to.equal(null);
    await store.set(workerControlKey("h/3/z"), "garbage", 60_000);
    expect(await pendingWorkerControl(store, "h/3/z")).to.equal(null);
    for (const bad of [() => requestWorkerControl(store, "", "stop"), () => requestWorkerControl(store, "h/1/x", "kill" as "stop")]) {
      let error: unknown;
      await bad().catch((e: unknown) => (error = e));
      expect(error).to.be.instanceOf(InvalidOptions);
    }
  });
});
