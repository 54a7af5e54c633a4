// `npm run bench [-- --quick] [-- throughput latency threads]`: runs each bench script in its own
// process (so one bench's threads, timers and heap never skew another's figures), then merges
// their JSON into bench/results/latest.json and prints the summary: dramats against the
// baselines measured in the same run, as ratios, with the targets.
// Uses REDIS_URL and AMQP_URL (default: the local servers); starts worker processes itself.
import { spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { fileURLToPath } from "node:url";
import { summarize } from "./lib/summary.ts";

const SCRIPTS = ["throughput", "latency", "threads"] as const;
const dir = fileURLToPath(new URL("./", import.meta.url));
const args = process.argv.slice(2);
const quick = args.includes("--quick");
const flags = args.filter((a) => a.startsWith("--"));
const only = args.filter((a) => !a.startsWith("--"));
const scripts = SCRIPTS.filter((s) => only.length === 0 || only.some((name) => s.startsWith(name)));

const started = new Date();
const load = { start: loadavg()[0]!, end: 0 };
const results: Record<string, unknown> = {};
mkdirSync(`${dir}results`, { recursive: true });
let failed = 0;
for (const script of scripts) {
  console.log(`\n== ${script}`);
  const out = `${dir}results/${script}.json`;
  rmSync(out, { force: true });
  const result = spawnSync(process.execPath, ["--import", "tsx", `${dir}${script}.ts`, ...flags, "--out", out], {
    stdio: "inherit",
    env: { DRAMATS_LOG_LEVEL: "warn", ...process.env },
  });
  if (result.status !== 0) failed++;
  try {
    results[script] = JSON.parse(readFileSync(out, "utf8"));
    rmSync(out, { force: true });
  } catch {
    console.error(`${script} wrote no results`);
  }
}
load.end = loadavg()[0]!;

const commit = spawnSync("git", ["rev-parse", "--short", "HEAD"], { cwd: dir, encoding: "utf8" }).stdout.trim();
const meta = {
  date: started.toISOString(),
  seconds: Math.round((Date.now() - started.getTime()) / 1000),
  quick,
  commit,
  node: process.version,
  cores: cpus().length,
  cpu: cpus()[0]?.model,
  loadAverage: load,
  redisUrl: process.env.REDIS_URL ?? "redis://127.0.0.1:6379 (default)",
  amqpUrl: (process.env.AMQP_URL ?? "amqp://guest:guest@127.0.0.1:5672 (default)").replace(/\/\/[^@/]*@/, "//***@"),
};
const summary = summarize(results);
const latest = `${dir}results/latest.json`;
writeFileSync(latest, JSON.stringify({ meta, summary, ...results }, null, 2));
console.log(`\n== summary (${meta.seconds} s, load average ${load.start.toFixed(1)} -> ${load.end.toFixed(1)} on ${meta.cores} cores; ${latest})`);
summary.print();
process.exit(failed === 0 ? 0 : 1);
