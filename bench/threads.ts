// Threaded (CPU-bound) actor throughput with 1 and 2 pool threads, through a real Worker on
// the in-memory broker. Prints medians and the 2-thread / 1-thread ratio (target: >= 1.6 on
// 2 cores). Run: node --import tsx bench/threads.ts [--messages N] [--runs N] [--rounds N]
// [--quick] [--out file.json]
import { writeFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { parseArgs } from "node:util";
import { StubBroker } from "../brokers/stub.ts";
import { setBroker, Worker } from "../lib/index.ts";
import { ThreadPool } from "../lib/threads/pool.ts";
import { Threads } from "../middleware/threads.ts";
import { burn } from "./threads-actors.ts";

const { values } = parseArgs({
  options: {
    messages: { type: "string" },
    runs: { type: "string" },
    rounds: { type: "string", default: "8" },
    quick: { type: "boolean", default: false },
    out: { type: "string" },
  },
});
if (process.env.BENCH_SMOKE === "1") {
  values.messages ??= "4";
  values.runs ??= "1";
}
if (values.quick) {
  values.messages ??= "40";
  values.runs ??= "2";
}
const MESSAGES = Number(values.messages ?? "160");
const RUNS = Number(values.runs ?? "3");
const ROUNDS = Number(values.rounds);
const QUEUE = "bench-threads";
// Compiled by `npm run bench`, this file is .js and so is the actors module beside it.
const MODULES = [new URL(`./threads-actors.${import.meta.url.endsWith(".js") ? "js" : "ts"}`, import.meta.url).href];

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** Messages per second for one run with a pool of `size` threads. */
async function measure(broker: StubBroker, size: number): Promise<number> {
  const pool = new ThreadPool({ modules: MODULES, size });
  await pool.warmUp();
  const threads = broker.middleware.find((m): m is Threads => m instanceof Threads)!;
  threads.usePool(pool);
  // Enough concurrency to keep every thread busy; the pool queues the rest.
  const worker = new Worker(broker, { concurrency: size * 2, fetchTimeout: 50 });
  for (let i = 0; i < MESSAGES; i++) await burn.send(ROUNDS);
  const start = performance.now();
  await worker.start();
  await broker.join(QUEUE, { failFast: true });
  const seconds = (performance.now() - start) / 1000;
  await worker.stop();
  threads.usePool(undefined);
  await pool.destroy();
  return MESSAGES / seconds;
}

const broker = new StubBroker();
setBroker(broker);
const results: Record<1 | 2, number[]> = { 1: [], 2: [] };
for (let run = 0; run < RUNS; run++) {
  // Alternate, so drift in the machine's speed hits both sizes alike.
  for (const size of [1, 2] as const) results[size].push(await measure(broker, size));
}
await broker.close();

const one = median(results[1]);
const two = median(results[2]);
console.log(`threaded CPU-bound actor, ${MESSAGES} messages x ${ROUNDS}M steps, ${RUNS} runs each (median):`);
console.log(`  machine: ${cpus().length} cores, load average ${loadavg()[0]!.toFixed(2)} at the end (a busy machine caps the 2-thread figure)`);
console.log(`  1 thread : ${one.toFixed(1)} msg/s   runs ${results[1].map((x) => x.toFixed(1)).join(", ")}`);
console.log(`  2 threads: ${two.toFixed(1)} msg/s   runs ${results[2].map((x) => x.toFixed(1)).join(", ")}`);
console.log(`  ratio 2/1: ${(two / one).toFixed(2)}x`);

if (values.out) {
  const summary = (xs: number[]) => ({ median: median(xs), min: Math.min(...xs), max: Math.max(...xs), samples: xs });
  writeFileSync(
    values.out,
    JSON.stringify({ messages: MESSAGES, rounds: ROUNDS, runs: RUNS, threads1: summary(results[1]), threads2: summary(results[2]), ratio: two / one }, null, 2),
  );
}
