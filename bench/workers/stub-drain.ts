// The framework's own cost: dramats on the in-memory StubBroker, producer and worker in this one
// process, so no network or server is involved. Answers commands from the bench on stdin:
//   round single|bulk N   pause the worker, enqueue N (concurrent sends or sendMany), resume,
//                         wait until they ran; answers `BENCH result {...}` with the figures.
import { createInterface } from "node:readline";
import { StubBroker } from "../../brokers/stub.ts";
import { actor, Worker } from "../../lib/index.ts";
import { nowNs } from "../lib/proc.ts";
import { measureRound, type Drainable, type EnqueueMode } from "../lib/subject.ts";
import { report } from "./report.ts";

const broker = new StubBroker();
let count = 0;
let sent = 0;
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

/** This process as measureRound sees it: the worker paused instead of frozen. */
const subject: Drainable = {
  pids: [process.pid],
  freeze: () => worker.pause(),
  thaw: () => worker.resume(),
  send(i) {
    sent++;
    return noop.send(i);
  },
  sendMany(from, to) {
    sent += to - from;
    return noop.sendMany(Array.from({ length: to - from }, (_, k) => [from + k] as [number]));
  },
  drained() {
    target = sent;
    return new Promise<void>((resolve) => (reached = resolve)).then(nowNs);
  },
};

report(`pid ${process.pid}`);
// One command at a time, in order.
let queue = Promise.resolve();
createInterface({ input: process.stdin }).on("line", (line) => {
  const [command, mode, n] = line.trim().split(" ");
  if (command !== "round") return;
  queue = queue.then(async () => report(`result ${JSON.stringify(await measureRound(subject, mode as EnqueueMode, Number(n)))}`));
});
process.stdin.on("end", () => void queue.then(() => worker.stop({ timeout: 1_000 })).then(() => process.exit(0)));
