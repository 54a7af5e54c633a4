// A/B comparison of two commits in one run (not part of `npm run bench`):
//   npm run bench -- ab --base HEAD~1 [--only redis] [--concurrency 1,50] [--rounds 6] [--messages N]
// Builds the base commit's lib/, middleware/ and brokers/ (with this bench) into
// node_modules/.cache/dramats-bench-ab/, then measures base and working tree side by side,
// alternating round by round, and prints new/base ratios. Used for the before/after figures
// of performance commits: both sides share the machine's load.
import { execSync } from "node:child_process";
import { copyFileSync, cpSync, existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { fileURLToPath } from "node:url";
import { MESSAGES, ROUNDS } from "./lib/config.ts";
import { DramatsSubject, type BrokerKind } from "./lib/dramats-subject.ts";
import { Samples } from "./lib/stats.ts";
import { fixed, int, printTable, range } from "./lib/table.ts";
import type { Tree } from "./lib/worker-process.ts";

const { values } = parseArgs({
  options: { base: { type: "string", default: "HEAD" }, only: { type: "string", default: "redis" }, concurrency: { type: "string", default: "1,50" } },
  strict: false,
});
const repo = execSync("git rev-parse --show-toplevel", { cwd: fileURLToPath(new URL(".", import.meta.url)), encoding: "utf8" }).trim();
const rev = execSync(`git rev-parse --short ${values.base}`, { cwd: repo, encoding: "utf8" }).trim();

/** Compiles `rev`'s package sources, with the current bench, into a tree of its own. */
function buildBase(): Tree {
  const cache = `${repo}/node_modules/.cache/dramats-bench-ab/`;
  const src = `${cache}src-${rev}/`;
  const out = `${cache}out-${rev}/`;
  if (!existsSync(`${out}lib/index.js`)) {
    rmSync(src, { recursive: true, force: true });
    mkdirSync(src, { recursive: true });
    execSync(`git archive ${rev} lib middleware brokers | tar -x -C ${src}`, { cwd: repo });
    cpSync(`${repo}/bench`, `${src}bench`, { recursive: true, filter: (p) => !p.includes("/results") });
    copyFileSync(`${repo}/tsconfig.json`, `${src}tsconfig.json`);
    try {
      execSync(`node ${repo}/node_modules/typescript/bin/tsc -p ${src}bench/tsconfig.json --outDir ${out} --tsBuildInfoFile ${out}.tsbuildinfo`, { stdio: "inherit" });
    } catch {
      // Type errors still emit; a missing lib/index.js below says whether the build failed.
    }
    writeFileSync(`${out}package.json`, JSON.stringify({ type: "module", private: true }));
    for (const name of readdirSync(`${src}brokers/redis`)) {
      if (name.endsWith(".lua")) copyFileSync(`${src}brokers/redis/${name}`, `${out}brokers/redis/${name}`);
    }
  }
  if (!existsSync(`${out}lib/index.js`)) throw new Error(`building ${rev} failed`);
  return { root: out, compiled: true };
}

const base = buildBase();
const kind = values.only as BrokerKind;
const pairs = String(values.concurrency)
  .split(",")
  .map((c) => [new DramatsSubject(kind, Number(c), { tree: base, label: "base" }), new DramatsSubject(kind, Number(c), { label: "new" })] as const);
const subjects = pairs.flat();
const samples = new Map(subjects.map((s) => [s.name, new Samples()]));
console.log(`A/B: ${rev} (base) vs working tree (new), ${kind}, ${MESSAGES} messages, ${ROUNDS} rounds`);
try {
  await Promise.all(subjects.map((s) => s.setup()));
  for (let round = 0; round < ROUNDS; round++) {
    // Swap the order every round, so neither side always runs right after the other.
    for (const [a, b] of pairs) for (const s of round % 2 ? [b, a] : [a, b]) {
      for (const [metric, value] of Object.entries(await s.round(round))) samples.get(s.name)!.add(metric, value);
    }
  }
} finally {
  for (const s of subjects) await s.teardown().catch((error) => console.error(error));
}

const metrics: [string, string, (x: number) => string][] = [
  ["drain", "drain msg/s", int],
  ["enqueue_single", "enqueue single msg/s", int],
  ["enqueue_bulk", "enqueue bulk msg/s", int],
  ["worker_cpu_us", "worker CPU µs/msg", (x) => fixed(x, 1)],
  ["redis_cpu_us", "Redis CPU µs/msg", (x) => fixed(x, 1)],
  ["rss_rest_mb", "RSS rest MB", (x) => fixed(x, 0)],
  ["rss_peak_mb", "RSS peak MB", (x) => fixed(x, 0)],
];
for (const [b, n] of pairs) {
  console.log(`\nconcurrency ${b.name.split(" c")[1]!.split(" ")[0]}`);
  printTable(
    ["metric", `base ${rev}`, "new", "new/base"],
    metrics.map(([metric, label, format]) => {
      const x = samples.get(b.name)!.get(metric);
      const y = samples.get(n.name)!.get(metric);
      return [label, range(x, format), range(y, format), x && y ? `${(y.median / x.median).toFixed(2)}x` : "-"];
    }),
  );
}
