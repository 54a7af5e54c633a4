// The framework's own cost: dramats on the in-memory StubBroker, producer and worker in this one
// process, so no network or server is involved. Answers commands from the bench on stdin:
//   round single|bulk N   pause the worker, enqueue N (concurrent sends or sendMany), resume,
//                         wait until they ran; answers `BENCH result {...}` with the figures.
import { createInterface } from "node:readline";
import { StubBroker } from "../../brokers/stub.ts";
import { actor, Worker } from "../../lib/index.ts";
import { cpuMicros, nowNs, peakRssMb, resetPeakRss, rssMb } from "../lib/proc.ts";
import { inChunks, inWindows, seconds } from "../lib/subject.ts";
import { report } from "./report.ts";

const broker = new StubBroker();
let count = 0;
let target = 0;
let reached: (() => void) | undefined;
const noop = actor(
  function bench_noop(_n: number): void {
    if (++count === target) reached?.();
  },
  { broker, queueName: "bench_noop" },
);
const worker = new Worker(broker, { concurrency: Number(process.env.BENCH_CONCURRENCY ?? 50) });
await worker.start();

async function round(mode: string, messages: number): Promise<Record<string, number>> {
  worker.pause();
  const rest = rssMb(process.pid);
  resetPeakRss(process.pid);
  const t0 = nowNs();
  if (mode === "single") await inWindows(messages, (i) => noop.send(i));
  else await inChunks(messages, (from, to) => noop.sendMany(Array.from({ length: to - from }, (_, k) => [from + k] as [number])));
  const t1 = nowNs();
  target = count + messages;
  const done = new Promise<void>((resolve) => (reached = resolve));
  const cpu0 = cpuMicros(process.pid);
  const start = nowNs();
  worker.resume();
  await done;
  const end = nowNs();
  const cpu1 = cpuMicros(process.pid);
  return {
    [`enqueue_${mode}`]: messages / seconds(t0, t1),
    drain: messages / seconds(start, end),
    worker_cpu_us: (cpu1 - cpu0) / messages,
    rss_rest_mb: rest,
    rss_peak_mb: peakRssMb(process.pid),
  };
}

report(`pid ${process.pid}`);
// One command at a time, in order.
let queue = Promise.resolve();
createInterface({ input: process.stdin }).on("line", (line) => {
  const [command, mode, n] = line.trim().split(" ");
  if (command !== "round") return;
  queue = queue.then(async () => report(`result ${JSON.stringify(await round(mode!, Number(n)))}`));
});
process.stdin.on("end", () => void queue.then(() => worker.stop({ timeout: 1_000 })).then(() => process.exit(0)));
