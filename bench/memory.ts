// Idle memory of a real app against the no-op app, both on Redis under the dramats CLI (one
// worker process, 8 concurrent actors): the no-op app is the bench's counting actor; the real app
// (bench/workers/real-app.ts) uses what the examples use together (results, a chord, a rate
// limiter, cancellation, cron, the default middleware with Prometheus) and first runs a workload
// sent from this process. RSS is read IDLE_MS after the last message, from /proc, for the worker
// process and the supervisor, with the worker's split into anonymous memory (heap, mostly) and
// file pages (the node binary's, shared with the supervisor). Each round boots both apps again.
// Run: node --import tsx bench/memory.ts [--rounds N] [--out file.json]
import { readFileSync, writeFileSync } from "node:fs";
import { OUT, QUICK, REDIS_URL, ROUNDS, RUN_ID, SMOKE, redisUrlWithNamespace } from "./lib/config.ts";
import { deleteRedisKeys } from "./lib/cleanup.ts";
import { rssMb } from "./lib/proc.ts";
import { Samples } from "./lib/stats.ts";
import { fixed, printTable, range } from "./lib/table.ts";
import { OWN_TREE, WorkerProcess } from "./lib/worker-process.ts";

/** Idle time before RSS is read: V8's memory reducer and dramats' idle GC act within seconds. */
const IDLE_MS = SMOKE ? 500 : 12_000;
/** Memory boots per app; each figure is their median. */
const BOOTS = Math.min(ROUNDS, QUICK ? 2 : 3);
/** Workload rounds of the real app before it idles (each: 100 results, a chord of 50, 20 limited reports). */
const WORK_ROUNDS = SMOKE ? 1 : 5;

function kb(pid: number, field: "RssAnon" | "RssFile"): number {
  const match = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return match ? Number(match[1]) / 1024 : NaN;
}

const namespace = `bench-mem-${RUN_ID}`;
process.env.REAL_APP_NAMESPACE = namespace;
const samples = { noop: new Samples(), real: new Samples() };
const started = Date.now();
console.log(`idle memory: ${BOOTS} boots per app, RSS read ${IDLE_MS / 1000} s after the last message`);
const app = (await import(new URL("./workers/real-app." + (import.meta.url.endsWith(".js") ? "js" : "ts"), import.meta.url).href)) as typeof import("./workers/real-app.ts");
try {
  for (let boot = 0; boot < BOOTS; boot++) {
    const noop = WorkerProcess.dramats({ name: "no-op app", brokerUrl: redisUrlWithNamespace(`${namespace}-noop`), threads: 8, tree: OWN_TREE });
    const real = WorkerProcess.dramats({ name: "real app", brokerUrl: undefined, module: "bench/workers/real-app", threads: 8, tree: OWN_TREE, env: { REAL_APP_NAMESPACE: namespace, REDIS_URL } });
    try {
      const booting = Date.now();
      await Promise.all([noop.ready(), real.ready()]);
      const working = Date.now();
      await app.work(WORK_ROUNDS);
      process.stdout.write(`  booted in ${((working - booting) / 1000).toFixed(1)} s, workload ran in ${((Date.now() - working) / 1000).toFixed(1)} s\n`);
      await new Promise((resolve) => setTimeout(resolve, IDLE_MS));
      for (const [name, worker] of [["noop", noop], ["real", real]] as const) {
        const s = samples[name];
        s.add("worker_rss_mb", rssMb(worker.pid));
        s.add("worker_anon_mb", kb(worker.pid, "RssAnon"));
        s.add("worker_file_mb", kb(worker.pid, "RssFile"));
        s.add("supervisor_rss_mb", rssMb(worker.supervisorPid));
      }
    } finally {
      await Promise.all([noop.close(), real.close()]);
    }
    process.stdout.write(`  boot ${boot + 1}/${BOOTS} done (${((Date.now() - started) / 1000).toFixed(0)} s)\n`);
  }
} finally {
  await app.broker.close();
  await deleteRedisKeys(`${namespace}*`);
}

const rows = (["noop", "real"] as const).map((name) => {
  const m = samples[name];
  const mb = (x: number) => fixed(x, 1);
  return [name === "noop" ? "no-op app" : "real app", range(m.get("worker_rss_mb"), mb), range(m.get("worker_anon_mb"), mb), range(m.get("worker_file_mb"), mb), range(m.get("supervisor_rss_mb"), mb)];
});
console.log("");
printTable(["app (Redis, 1 process, c8)", "worker RSS MB", "of it anonymous", "of it file pages", "supervisor RSS MB"], rows);
console.log(`medians (min-max) of ${BOOTS} boots, read ${IDLE_MS / 1000} s after the last message; the real app first ran ${WORK_ROUNDS} workload rounds`);

if (OUT) writeFileSync(OUT, JSON.stringify({ boots: BOOTS, idleMs: IDLE_MS, apps: { noop: samples.noop.toJSON(), real: samples.real.toJSON() } }, null, 2));
