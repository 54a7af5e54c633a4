// Profiles a dramats worker process draining no-op messages (not part of `npm run bench`):
//   npm run bench -- profile [--only redis|rabbitmq|sqlite] [--concurrency 50] [--rounds 3]
// The CLI runs under --cpu-prof (its worker process inherits the flag); the profiles land in
// $TMPDIR/dramats-bench-profiles/, and the worker's hottest functions and files are printed.
import { mkdirSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { fileURLToPath } from "node:url";
import { MESSAGES, ROUNDS } from "./lib/config.ts";
import { DramatsSubject, type BrokerKind } from "./lib/dramats-subject.ts";
import { printTable } from "./lib/table.ts";

const { values } = parseArgs({ options: { concurrency: { type: "string", default: "50" }, only: { type: "string", default: "redis" } }, strict: false });
const dir = join(tmpdir(), "dramats-bench-profiles/");
rmSync(dir, { recursive: true, force: true });
mkdirSync(dir, { recursive: true });

const subject = new DramatsSubject(values.only as BrokerKind, Number(values.concurrency), { nodeArgs: ["--cpu-prof", "--cpu-prof-interval", "100", "--cpu-prof-dir", dir] });
await subject.setup();
const pid = subject.workerPid;
// Only samples taken from here on count: the boot (module loading, tsx) is not the hot path.
const from = process.hrtime.bigint() / 1000n;
for (let round = 0; round < ROUNDS; round++) {
  const f = await subject.round(round);
  console.log(`round ${round + 1}: drain ${Math.round(f.drain!)} msg/s, worker CPU ${f.worker_cpu_us!.toFixed(1)} µs/msg (${MESSAGES} messages)`);
}
await subject.teardown();

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount: number;
}
// Profiles are named CPU.<date>.<time>.<pid>.<thread>.<seq>.cpuprofile: take the worker process's.
const biggest = readdirSync(dir).find((f) => f.endsWith(".cpuprofile") && f.split(".")[3] === String(pid))!;
const profile = JSON.parse(readFileSync(dir + biggest, "utf8")) as { nodes: Node[]; samples: number[]; timeDeltas: number[]; startTime: number };
const hits = new Map<number, number>();
let total = 0;
let at = profile.startTime;
profile.samples.forEach((id, i) => {
  at += profile.timeDeltas[i]!;
  if (BigInt(Math.round(at)) < from) return;
  hits.set(id, (hits.get(id) ?? 0) + 1);
  total++;
});
const byFunction = new Map<string, number>();
const byFile = new Map<string, number>();
const root = fileURLToPath(new URL("../", import.meta.url));
for (const node of profile.nodes) {
  const n = hits.get(node.id) ?? 0;
  if (n === 0) continue;
  const file = node.callFrame.url.replace("file://", "").replace(root, "").replace(/.*node_modules\//, "nm/") || "(native)";
  const fn = `${node.callFrame.functionName || "(anonymous)"} ${file}:${node.callFrame.lineNumber + 1}`;
  byFunction.set(fn, (byFunction.get(fn) ?? 0) + n);
  byFile.set(file, (byFile.get(file) ?? 0) + n);
}
const top = (m: Map<string, number>, k: number) =>
  [...m].sort((a, b) => b[1] - a[1]).slice(0, k).map(([name, n]) => [name, `${((100 * n) / total).toFixed(1)}%`]);
console.log(`\n${dir}${biggest}: ${total} samples`);
printTable(["function (self time)", "share"], top(byFunction, 40));
console.log("");
printTable(["file (self time)", "share"], top(byFile, 25));
