// Idle latency: a worker process waits with nothing to do; messages are sent one at a time, and
// each reports the moment its actor starts, on the machine-wide monotonic clock. Enqueue-to-start
// = that moment minus the moment just before the send call. A short pause after each start lets
// the worker go idle again. Subjects take turns in blocks, so load drift hits them alike; each
// block is a round (p50 and p99 per round, reported as the median over rounds), and the worker's
// CPU while idle is read from /proc (no polling means near zero).
// Run: node --import tsx bench/latency.ts [--quick] [--rounds N] [--only redis,bullmq] [--out f]
import { writeFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { Queue } from "bullmq";
import { actor } from "../lib/index.ts";
import { brokerTarget, sqliteAvailable, type BrokerKind } from "./lib/broker-target.ts";
import { bullConnection } from "./lib/bullmq.ts";
import { deleteRedisKeys } from "./lib/cleanup.ts";
import { OUT, QUICK, REDIS_URL, ROUNDS, RUN_ID, selected, SMOKE } from "./lib/config.ts";
import { cpuMicros, nowNs } from "./lib/proc.ts";
import { percentile, Samples } from "./lib/stats.ts";
import { fixed, printTable, range } from "./lib/table.ts";
import { OWN_TREE, WorkerProcess } from "./lib/worker-process.ts";

/** Messages per round and subject (the 500 = 5 rounds of 100). */
const PER_ROUND = SMOKE ? 10 : 100;
const ROUND_COUNT = SMOKE ? 1 : QUICK ? 2 : Math.max(ROUNDS, 5);
/** How long the idle workers' CPU is watched. */
const IDLE_MS = SMOKE ? 200 : 2_000;
/** Pause after each start, so the next message finds the worker idle (acked, waiting). */
const GAP_MS = 5;
/** Async actors per worker process, both for dramats (--threads) and BullMQ (concurrency). */
const CONCURRENCY = 8;

interface LatencySubject {
  readonly name: string;
  readonly worker: WorkerProcess;
  /** Sends the message numbered `seq`; resolves when the broker holds it. */
  send(seq: number): Promise<unknown>;
  close(): Promise<void>;
}

async function dramatsSubject(kind: BrokerKind): Promise<LatencySubject> {
  const queue = `bench_${RUN_ID}_latency_${kind}`;
  const target = await brokerTarget(OWN_TREE, kind, "latency", queue);
  const started = actor(function bench_started(_seq: number): void {}, { broker: target.producer, queueName: queue });
  const name = `dramats ${kind}`;
  const worker = WorkerProcess.dramats({ name, brokerUrl: target.url, threads: CONCURRENCY, env: { BENCH_QUEUE: queue } });
  return {
    name,
    worker,
    send: (seq) => started.send(seq),
    async close() {
      await worker.close();
      await target.producer.close();
      await target.cleanup();
    },
  };
}

function bullSubject(): LatencySubject {
  const prefix = `bench-${RUN_ID}-latency-bull`;
  const queue = new Queue("bench_latency", {
    connection: bullConnection(REDIS_URL),
    prefix,
    defaultJobOptions: { removeOnComplete: true, removeOnFail: true },
  });
  const worker = WorkerProcess.bullmq({ name: "bullmq", redisUrl: REDIS_URL, queue: "bench_latency", prefix, concurrency: CONCURRENCY });
  return {
    name: "bullmq",
    worker,
    send: (seq) => queue.add("start", seq),
    async close() {
      await worker.close();
      await queue.obliterate({ force: true }).catch(() => undefined);
      await queue.close();
      await deleteRedisKeys(`${prefix}:*`);
    },
  };
}

/** Enqueue-to-start of one message, in ms. */
async function once(subject: LatencySubject, seq: number): Promise<number> {
  const sent = nowNs();
  await subject.send(seq);
  const started = await subject.worker.waitStart(seq);
  await sleep(GAP_MS);
  return Number(started - sent) / 1e6;
}

// Only the selected subjects start: a name is known before its subject is made.
const makers: [string, () => LatencySubject | Promise<LatencySubject>][] = [
  ["dramats redis", () => dramatsSubject("redis")],
  ["bullmq", bullSubject],
  ["dramats rabbitmq", () => dramatsSubject("rabbitmq")],
];
if (sqliteAvailable()) makers.push(["dramats sqlite", () => dramatsSubject("sqlite")]);
const subjects = await Promise.all(makers.filter(([name]) => selected(name)).map(([, make]) => make()));
const samples = new Map(subjects.map((s) => [s.name, new Samples()]));
const all = new Map<string, number[]>(subjects.map((s) => [s.name, []]));
console.log(`idle latency: ${ROUND_COUNT} rounds of ${PER_ROUND} messages sent one at a time, ${GAP_MS} ms apart; subjects: ${subjects.map((s) => s.name).join(", ")}`);
let seq = 0;
try {
  await Promise.all(subjects.map((s) => s.worker.ready()));
  for (const subject of subjects) for (let i = 0; i < 20; i++) await once(subject, seq++); // warm-up
  // CPU of each idle worker over two seconds: with blocking waits instead of polling, near zero.
  const idle0 = subjects.map((s) => cpuMicros(s.worker.pid));
  await sleep(IDLE_MS);
  subjects.forEach((s, i) => samples.get(s.name)!.add("idle_cpu_ms_per_s", (cpuMicros(s.worker.pid) - idle0[i]!) / IDLE_MS));
  for (let round = 0; round < ROUND_COUNT; round++) {
    for (const subject of subjects) {
      const latencies: number[] = [];
      for (let i = 0; i < PER_ROUND; i++) latencies.push(await once(subject, seq++));
      all.get(subject.name)!.push(...latencies);
      const s = samples.get(subject.name)!;
      s.add("p50_ms", percentile(latencies, 50));
      s.add("p99_ms", percentile(latencies, 99));
      s.add("max_ms", Math.max(...latencies));
    }
  }
} finally {
  for (const subject of subjects) await subject.close().catch((error) => console.error(`closing ${subject.name} failed:`, error));
}

const result = Object.fromEntries(
  subjects.map((s) => {
    const lat = all.get(s.name)!;
    return [s.name, { ...samples.get(s.name)!.toJSON(), overall: { count: lat.length, p50_ms: percentile(lat, 50), p99_ms: percentile(lat, 99) } }];
  }),
);
console.log("");
const ms = (x: number) => fixed(x, 2);
printTable(
  ["subject", "p50 ms", "p99 ms", "max ms", "all: p50 / p99 ms", "idle CPU ms/s"],
  subjects.map((s) => {
    const m = samples.get(s.name)!;
    const o = result[s.name]!.overall;
    return [s.name, range(m.get("p50_ms"), ms), range(m.get("p99_ms"), ms), range(m.get("max_ms"), ms), `${ms(o.p50_ms)} / ${ms(o.p99_ms)}`, range(m.get("idle_cpu_ms_per_s"), ms)];
  }),
);
console.log(`per-round percentiles: median (min-max) over ${ROUND_COUNT} rounds of ${PER_ROUND}; worker concurrency ${CONCURRENCY}`);
if (OUT) writeFileSync(OUT, JSON.stringify({ perRound: PER_ROUND, rounds: ROUND_COUNT, gapMs: GAP_MS, concurrency: CONCURRENCY, subjects: result }, null, 2));
