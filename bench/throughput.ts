// No-op throughput, worker CPU and memory: each subject enqueues MESSAGES messages (one small
// integer argument), then one worker process drains them (two for "p2" subjects). Rounds alternate concurrent single
// sends and bulk sends, and visit the subjects in turn, so that drift in the machine's load hits
// every subject alike. Run: node --import tsx bench/throughput.ts [--quick] [--rounds N]
// [--messages N] [--only redis,bullmq] [--out file.json]
import { writeFileSync } from "node:fs";
import { MESSAGES, OUT, QUICK, ROUNDS, selected, SMOKE } from "./lib/config.ts";
import { sqliteAvailable } from "./lib/broker-target.ts";
import { BullSubject } from "./lib/bullmq-subject.ts";
import { DramatsSubject } from "./lib/dramats-subject.ts";
import { RawAmqpSubject } from "./lib/raw-amqp.ts";
import { RawRedisSubject } from "./lib/raw-redis.ts";
import { rssMb, summed } from "./lib/proc.ts";
import { Samples } from "./lib/stats.ts";
import { StubSubject } from "./lib/stub-subject.ts";
import type { ThroughputSubject } from "./lib/subject.ts";
import { fixed, int, printTable, range } from "./lib/table.ts";

/** Idle time before the at-rest RSS is read, once the rounds are over. */
const IDLE_MS = SMOKE ? 500 : 12_000;

const subjects: ThroughputSubject[] = [
  new DramatsSubject("redis", 1),
  new BullSubject(1),
  new DramatsSubject("redis", 50),
  new BullSubject(50),
  new RawRedisSubject(),
  new DramatsSubject("rabbitmq", 50),
  new RawAmqpSubject(),
  // SQLite is embedded: the one broker whose workers scale by processes on one machine.
  ...(sqliteAvailable() ? [new DramatsSubject("sqlite", 50), new DramatsSubject("sqlite", 50, { processes: 2 })] : []),
  new StubSubject(50),
].filter((s) => selected(s.name));

const samples = new Map(subjects.map((s) => [s.name, new Samples()]));
const started = Date.now();
console.log(`no-op throughput: ${MESSAGES} messages per round, ${ROUNDS} rounds${QUICK ? " (quick)" : ""}; subjects: ${subjects.map((s) => s.name).join(", ")}`);
try {
  // Start every worker at once: boots overlap, and idle workers cost nothing (no polling).
  await Promise.all(subjects.map((s) => s.setup()));
  for (let round = 0; round < ROUNDS; round++) {
    for (const subject of subjects) {
      const figures = await subject.round(round);
      for (const [metric, value] of Object.entries(figures)) samples.get(subject.name)!.add(metric, value);
    }
    process.stdout.write(`  round ${round + 1}/${ROUNDS} done (${((Date.now() - started) / 1000).toFixed(0)} s)\n`);
  }
  // At rest: V8 gives back memory (its memory reducer) some seconds after a process goes idle.
  await new Promise((resolve) => setTimeout(resolve, IDLE_MS));
  for (const subject of subjects) {
    if (subject.workerPids === undefined) continue;
    const s = samples.get(subject.name)!;
    if (subject.bootRss !== undefined) s.add("rss_boot_mb", subject.bootRss);
    s.add("rss_idle_mb", summed(subject.workerPids, rssMb));
  }
} finally {
  for (const subject of subjects) await subject.teardown().catch((error) => console.error(`teardown of ${subject.name} failed:`, error));
}

const result = Object.fromEntries([...samples].map(([name, s]) => [name, s.toJSON()]));
const rows = subjects.map((s) => {
  const m = samples.get(s.name)!;
  const enqueueConfirmed = m.get("enqueue_confirmed");
  return [
    s.name,
    range(m.get("drain")),
    range(m.get("enqueue_single") ?? enqueueConfirmed),
    range(m.get("enqueue_bulk")),
    range(m.get("worker_cpu_us"), (x) => fixed(x, 1)),
    range(m.get("redis_cpu_us"), (x) => fixed(x, 1)),
    range(m.get("rss_boot_mb"), (x) => fixed(x, 0)),
    range(m.get("rss_rest_mb"), (x) => fixed(x, 0)),
    range(m.get("rss_peak_mb"), (x) => fixed(x, 0)),
    range(m.get("rss_idle_mb"), (x) => fixed(x, 0)),
  ];
});
console.log("");
printTable(
  ["subject", "drain msg/s", "enqueue single msg/s", "enqueue bulk msg/s", "worker CPU µs/msg", "Redis CPU µs/msg", "RSS boot", "RSS between", "RSS peak", `RSS idle ${IDLE_MS / 1000}s`],
  rows,
);
console.log(
  `medians (min-max) of ${ROUNDS} rounds; RSS in MB: boot = booted, before any message; between = idle ~1 s after a drain; ` +
    `peak = while draining; idle = ${IDLE_MS / 1000} s after the last round; "p2": 2 worker processes, CPU and RSS summed. ` +
    `Raw loops run in the bench process; ` +
    `"enqueue single" of raw amqplib is its confirmed publish. ${int((Date.now() - started) / 1000)} s`,
);

if (OUT) writeFileSync(OUT, JSON.stringify({ messages: MESSAGES, rounds: ROUNDS, subjects: result }, null, 2));
