// `npm run bench [-- --quick] [-- throughput latency threads]`: compiles the package and the bench
// to JavaScript (tsc, into node_modules/.cache/dramats-bench-*), so that worker processes run as in
// production rather than through tsx; then runs each bench script in its own process (so one
// bench's threads, timers and heap never skew another's figures), merges their JSON into
// bench/results/latest.json and prints the summary: dramats against the baselines measured in
// the same run, as ratios, with the targets. `--source` skips the build and runs the
// TypeScript through tsx. `profile` and `ab` (named explicitly) run those tools instead.
// Uses REDIS_URL and AMQP_URL (default: the local servers); starts worker processes itself.
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { copyFileSync, mkdirSync, readdirSync, readFileSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { fileURLToPath } from "node:url";
import { summarize } from "./lib/summary.ts";

const SCRIPTS = ["throughput", "latency", "threads", "memory", "dashboard", "postgres"];
const dir = fileURLToPath(new URL("./", import.meta.url));
const root = fileURLToPath(new URL("../", import.meta.url));
const args = process.argv.slice(2);
const quick = args.includes("--quick");
const fromSource = args.includes("--source");
// Script names select scripts; everything else (--quick, --rounds 3, ...) goes to each script.
const TOOLS = ["profile", "ab"];
const isScript = (a: string) => TOOLS.includes(a) || SCRIPTS.includes(a);
const flags = args.filter((a) => !isScript(a) && a !== "--source");
const only = args.filter(isScript);
const tool = TOOLS.find((t) => only.includes(t));
const scripts = tool ? [tool] : SCRIPTS.filter((s) => only.length === 0 || only.includes(s));

/** Compiles with bench/tsconfig.json (incremental) and copies the Lua scripts beside the broker. */
function build(): string {
  // Checkouts may share node_modules (a worktree's symlink to it): each compiles into its own
  // directory, so that one's build never swaps the code under another's run.
  const checkout = createHash("sha1").update(realpathSync(root)).digest("hex").slice(0, 8);
  const out = `${root}node_modules/.cache/dramats-bench-${checkout}/`;
  const tsc = spawnSync(process.execPath, [`${root}node_modules/typescript/bin/tsc`, "-p", `${dir}tsconfig.json`, "--outDir", out, "--tsBuildInfoFile", `${out}.tsbuildinfo`], { stdio: "inherit" });
  // tsc emits despite type errors; only a failure to emit stops the bench.
  if (tsc.status !== 0 && tsc.status !== 2) throw new Error(`building the bench failed (tsc exit ${tsc.status})`);
  // Compiled files sit under node_modules, outside this package's "type": "module".
  writeFileSync(`${out}package.json`, JSON.stringify({ type: "module", private: true }));
  for (const name of readdirSync(`${root}brokers/redis`)) {
    if (name.endsWith(".lua")) copyFileSync(`${root}brokers/redis/${name}`, `${out}brokers/redis/${name}`);
  }
  return `${out}bench/`;
}

let scriptDir = dir;
let runner = ["--import", "tsx"];
let ext = "ts";
if (!fromSource) {
  const started = Date.now();
  scriptDir = build();
  runner = [];
  ext = "js";
  console.log(`built the bench in ${((Date.now() - started) / 1000).toFixed(0)} s`);
}

const started = new Date();
const load = { start: loadavg()[0]!, end: 0 };
const results: Record<string, unknown> = {};
mkdirSync(`${dir}results`, { recursive: true });
let failed = 0;
for (const script of scripts) {
  console.log(`\n== ${script}`);
  const out = `${dir}results/${script}.json`;
  rmSync(out, { force: true });
  const result = spawnSync(process.execPath, [...runner, `${scriptDir}${script}.${ext}`, ...flags, "--out", out], {
    stdio: "inherit",
    env: { DRAMATS_LOG_LEVEL: "warn", ...process.env },
  });
  if (result.status !== 0) failed++;
  try {
    results[script] = JSON.parse(readFileSync(out, "utf8"));
    rmSync(out, { force: true });
  } catch {
    if (!tool) console.error(`${script} wrote no results`);
  }
}
load.end = loadavg()[0]!;
if (tool) process.exit(failed === 0 ? 0 : 1);

const commit = spawnSync("git", ["rev-parse", "--short", "HEAD"], { cwd: dir, encoding: "utf8" }).stdout.trim();
const meta = {
  date: started.toISOString(),
  seconds: Math.round((Date.now() - started.getTime()) / 1000),
  quick,
  compiled: !fromSource,
  commit,
  node: process.version,
  cores: cpus().length,
  cpu: cpus()[0]?.model,
  loadAverage: load,
  redisUrl: process.env.REDIS_URL ?? "redis://127.0.0.1:6379 (default)",
  amqpUrl: (process.env.AMQP_URL ?? "amqp://guest:guest@127.0.0.1:5672 (default)").replace(/\/\/[^@/]*@/, "//***@"),
};
const latest = `${dir}results/latest.json`;
// A run of some scripts only keeps the other scripts' results from the previous run.
if (only.length > 0) {
  try {
    const previous = JSON.parse(readFileSync(latest, "utf8")) as Record<string, unknown>;
    for (const script of SCRIPTS) if (!(script in results) && script in previous) results[script] = previous[script];
  } catch {
    // no previous results
  }
}
for (const script of scripts) if (results[script]) (results[script] as Record<string, unknown>).measuredAt = meta.date;
const summary = summarize(results);
writeFileSync(latest, JSON.stringify({ meta, summary, ...results }, null, 2));
console.log(`\n== summary (${meta.seconds} s, load average ${load.start.toFixed(1)} -> ${load.end.toFixed(1)} on ${meta.cores} cores; ${latest})`);
summary.print();
process.exit(failed === 0 ? 0 : 1);
