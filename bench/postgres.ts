// dramats' PostgreSQL broker against graphile-worker and pg-boss on the same server, in one run
// (issue 21). Each side has a private schema on DATABASE_URL (dropped after) and its own worker
// processes (dramats: the `dramats` command; the others: bench/workers/*). Measured:
// - enqueue: one `await` at a time ("sequential", a commit each), concurrent single sends (windows
//   of 1,000 in flight) and bulk (1,000 per call), with the worker frozen (SIGSTOP);
// - drain of MESSAGES no-op jobs at concurrency 1 and MESSAGES_C50 at 50 (the fetch size each side uses is printed),
//   and the worker's CPU per message read from /proc;
// - idle latency (enqueue -> start, one job at a time, the concurrency-1 worker idle), and the idle
//   workers' CPU over IDLE_WINDOW_MS after IDLE_SETTLE_MS without work;
// - dramats' drain with 1, 2 and 4 worker processes (concurrency 50 each);
// - a transactional enqueue: an application's INSERT in a transaction, with and without a send in it;
// - the enqueue floor: the broker's insert statement alone on rows encoded beforehand (pg-floor.ts).
// Rounds visit the subjects in turn, so that drift in the machine's load hits every side alike.
// Run: node --import tsx bench/postgres.ts [--quick] [--rounds N] [--messages N] [--out f.json]
import { writeFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { parseArgs } from "node:util";
import { DATABASE_URL, OUT, QUICK, SMOKE } from "./lib/config.ts";
import { DramatsSide, GraphileSide, PgBossSide, type PgProducer, type PgSide } from "./lib/pg-sides.ts";
import { measureFloor, type FloorFigures } from "./lib/pg-floor.ts";
import { measureTransactions, type TransactionFigures } from "./lib/pg-transaction.ts";
import { cpuMicros, nowNs } from "./lib/proc.ts";
import { percentile, Samples } from "./lib/stats.ts";
import { measureRound, modeOf, type Drainable } from "./lib/subject.ts";
import { fixed, int, printTable, range } from "./lib/table.ts";
import type { WorkerProcess } from "./lib/worker-process.ts";

const { values } = parseArgs({ options: { rounds: { type: "string" }, messages: { type: "string" } }, strict: false });
/** No-op jobs per drain round at concurrency 1 (the baselines are slow: this keeps the script near two minutes). */
const MESSAGES = Number(values.messages ?? (SMOKE ? 200 : QUICK ? 1_000 : 2_000));
/**
 * No-op jobs per drain round at concurrency 50, the same for every side: enough that a round
 * measures the drain rather than its start (2,000 jobs last under 0.1 s for dramats, and its
 * first fetch after an idle spell is sized 2 x concurrency).
 */
const MESSAGES_C50 = Number(values.messages ?? (SMOKE ? 200 : QUICK ? 5_000 : 10_000));
const messagesFor = (s: { concurrency: number }) => (s.concurrency >= 50 ? MESSAGES_C50 : MESSAGES);
const ROUNDS = Number(values.rounds ?? (SMOKE ? 1 : QUICK ? 2 : 4));
/** Jobs sent one `await` at a time per round and subject. */
const SEQUENTIAL = SMOKE ? 20 : 200;
/** Messages per round of the dramats process curve (bulk-enqueued). */
const SCALE_MESSAGES = SMOKE ? 1_000 : QUICK ? 10_000 : 20_000;
/** Latency probes per side (pg-boss polls every 0.5 s: fewer). */
const PROBES = SMOKE ? 5 : 100;
const PGBOSS_PROBES = SMOKE ? 3 : 20;
/** Pause after each start, so the next job finds the worker idle. */
const GAP_MS = 5;
/** Quiet time before the idle workers' CPU is read, and how long it is read for (ms). */
const IDLE_SETTLE_MS = SMOKE ? 100 : 5_000;
const IDLE_WINDOW_MS = SMOKE ? 200 : 10_000;
/** pg-boss's polling interval: after an enqueue, its frozen worker is thawed this long later (its timer due). */
const PGBOSS_POLL_MS = 500;

interface Subject {
  readonly name: string;
  readonly side: PgSide;
  readonly concurrency: number;
  readonly processes: number;
  producer: PgProducer;
  worker: WorkerProcess;
  /** Jobs sent so far (the count the worker reaches once it drained them). */
  sent: number;
}

const dramats = new DramatsSide();
const sides: PgSide[] = [dramats, new GraphileSide(), new PgBossSide()];
const short = (side: PgSide) => side.name.replace(/-.*/, "");

async function subject(side: PgSide, concurrency: number, processes = 1): Promise<Subject> {
  const label = `${short(side)}_c${concurrency}${processes > 1 ? `_p${processes}` : ""}`;
  const producer = await side.producer(label);
  const name = `${side.name} c${concurrency}${processes > 1 ? ` p${processes}` : ""}`;
  const s: Subject = { name, side, concurrency, processes, producer, worker: side.spawn(label, concurrency, processes), sent: 0 };
  open.push(s); // closed at the end, whatever fails
  await s.worker.ready();
  return s;
}

function drainable(s: Subject): Drainable {
  return {
    pids: s.worker.pids,
    freeze: () => s.worker.freeze(),
    thaw: () => s.worker.thaw(),
    ...(s.side.name === "pg-boss" ? { beforeThaw: () => sleep(PGBOSS_POLL_MS) } : {}),
    send: (i) => {
      s.sent++;
      return s.producer.send(i);
    },
    sendMany: (from, to) => {
      s.sent += to - from;
      return s.producer.sendMany(from, to);
    },
    drained: () => s.worker.waitCount(s.sent),
  };
}

/** One `await` after another, the worker frozen; then the worker drains them. Returns msg/s. */
async function sequential(s: Subject, count: number): Promise<number> {
  s.worker.freeze();
  const t0 = nowNs();
  for (let i = 0; i < count; i++) {
    s.sent++;
    await s.producer.send(i);
  }
  const t1 = nowNs();
  s.worker.thaw();
  await s.worker.waitCount(s.sent);
  return count / (Number(t1 - t0) / 1e9);
}

/** Enqueue-to-start of one job, in ms. */
async function probe(s: Subject, seq: number, gapMs: number): Promise<number> {
  const sent = nowNs();
  await s.producer.sendStart(seq);
  const started = await s.worker.waitStart(seq);
  await sleep(gapMs);
  return Number(started - sent) / 1e6;
}

const open: Subject[] = [];
const samples = new Map<string, Samples>();
const sample = (name: string) => samples.get(name) ?? samples.set(name, new Samples()).get(name)!;
const latencies = new Map<string, number[]>();
let transaction: TransactionFigures | undefined;
let floor: FloorFigures | undefined;
const started = Date.now();
const elapsed = () => `${((Date.now() - started) / 1000).toFixed(0)} s`;
console.log(`PostgreSQL (${DATABASE_URL.replace(/\/\/[^@/]*@/, "//***@")}): ${MESSAGES} jobs per drain at concurrency 1, ${MESSAGES_C50} at 50, ${ROUNDS} rounds; dramats, graphile-worker, pg-boss`);
try {
  await Promise.all(sides.map((side) => side.setup()));
  // Sides boot together, a side's subjects one after the other (pg-boss's createQueue deadlocks
  // with a concurrent one); each producer creates its queue before its worker starts.
  const drains = (await Promise.all(sides.map(async (side) => [await subject(side, 1), await subject(side, 50)]))).flat();
  if (!SMOKE) for (const s of drains) await measureRound(drainable(s), "bulk", Math.min(MESSAGES, 500)); // warm-up
  console.log(`  booted and warmed up (${elapsed()})`);
  for (let round = 0; round < ROUNDS; round++) {
    for (const s of drains) {
      const figures = await measureRound(drainable(s), modeOf(round), messagesFor(s));
      for (const [metric, value] of Object.entries(figures)) sample(s.name).add(metric, value);
      sample(s.name).add("enqueue_sequential", await sequential(s, SEQUENTIAL));
    }
    console.log(`  drain round ${round + 1}/${ROUNDS} done (${elapsed()})`);
  }

  // Idle latency on each side's concurrency-1 worker. pg-boss polls: its probes go out at a
  // random moment of its 0.5 s cycle (a fixed gap would always land at the same point of it).
  // Idle CPU of the three concurrency-1 workers at once, after IDLE_SETTLE_MS without work (what
  // a process does in the seconds after a burst, a collection or a compilation, is not idling).
  const idlers = drains.filter((d) => d.concurrency === 1);
  await sleep(IDLE_SETTLE_MS);
  const idle0 = idlers.map((s) => cpuMicros(s.worker.pid));
  const idleStart = Date.now();
  await sleep(IDLE_WINDOW_MS);
  idlers.forEach((s, i) => sample(s.side.name).add("idle_cpu_ms_per_s", (cpuMicros(s.worker.pid) - idle0[i]!) / (Date.now() - idleStart)));
  let seq = 0;
  for (const s of idlers) {
    const polling = s.side.name === "pg-boss";
    const gap = () => (polling ? GAP_MS + Math.random() * PGBOSS_POLL_MS : GAP_MS);
    for (let i = 0; i < (SMOKE ? 1 : polling ? 2 : 10); i++) await probe(s, seq++, gap()); // warm-up
    const list: number[] = [];
    for (let i = 0; i < (polling ? PGBOSS_PROBES : PROBES); i++) list.push(await probe(s, seq++, gap()));
    latencies.set(s.side.name, list);
    sample(s.side.name).add("p50_ms", percentile(list, 50));
    sample(s.side.name).add("p99_ms", percentile(list, 99));
  }
  console.log(`  latency done (${elapsed()})`);

  // The process curve: the baselines' workers stop; dramats c50 on 1, 2 and 4 processes.
  for (const s of drains.filter((d) => d.side !== dramats || d.concurrency !== 50)) {
    await s.worker.close();
    await s.producer.close();
    open.splice(open.indexOf(s), 1);
  }
  const one = drains.find((d) => d.side === dramats && d.concurrency === 50)!;
  const curve = [one, ...(await Promise.all([2, 4].map((p) => subject(dramats, 50, p))))];
  if (!SMOKE) for (const s of curve.slice(1)) await measureRound(drainable(s), "bulk", Math.min(SCALE_MESSAGES, 5_000)); // warm-up
  for (let round = 0; round < ROUNDS; round++) {
    for (const s of curve) {
      const figures = await measureRound(drainable(s), "bulk", SCALE_MESSAGES);
      sample(`dramats c50 p${s.processes} scale`).add("drain", figures.drain!);
      sample(`dramats c50 p${s.processes} scale`).add("worker_cpu_us", figures.worker_cpu_us!);
    }
  }
  console.log(`  process curve done (${elapsed()})`);
  for (const s of open.splice(0)) {
    await s.worker.close();
    await s.producer.close();
  }

  transaction = await measureTransactions(dramats, SMOKE ? 20 : 300);
  console.log(`  transactional enqueue done (${elapsed()})`);
  floor = await measureFloor(dramats.schema, ROUNDS, SEQUENTIAL, MESSAGES_C50);
  console.log(`  enqueue floor done (${elapsed()})`);
} finally {
  for (const s of open) {
    await s.worker.close().catch((error) => console.error(`closing ${s.name} failed:`, error));
    await s.producer.close().catch(() => undefined);
  }
  for (const side of sides) await side.teardown().catch((error) => console.error(`dropping ${side.schema} failed:`, error));
}

const result = Object.fromEntries([...samples].map(([name, s]) => [name, s.toJSON()]));
const fetch = Object.fromEntries(sides.flatMap((side) => [1, 50].map((c) => [`${side.name} c${c}`, side.fetchSize(c)])));
const get = (name: string, metric: string) => samples.get(name)?.get(metric);
const one1 = (x: number) => fixed(x, 1);
console.log("");
printTable(
  ["subject", "drain msg/s", "enqueue sequential", "enqueue concurrent", "enqueue bulk", "worker CPU µs/msg", "fetch"],
  Object.keys(fetch).map((name) => [name, range(get(name, "drain")), range(get(name, "enqueue_sequential")), range(get(name, "enqueue_single")), range(get(name, "enqueue_bulk")), range(get(name, "worker_cpu_us"), one1), fetch[name]!]),
);
console.log("");
printTable(
  ["side (c1 worker, idle)", "p50 ms", "p99 ms", "max ms", "probes", "idle CPU ms/s"],
  sides.map((side) => {
    const list = latencies.get(side.name) ?? [];
    const ms = (x: number) => fixed(x, 2);
    return [side.name, range(get(side.name, "p50_ms"), ms), range(get(side.name, "p99_ms"), ms), list.length ? ms(Math.max(...list)) : "-", String(list.length), range(get(side.name, "idle_cpu_ms_per_s"), ms)];
  }),
);
console.log("");
printTable(
  ["dramats c50", "drain msg/s", "vs 1 process", "worker CPU µs/msg (summed)"],
  [1, 2, 4].map((p) => {
    const d = get(`dramats c50 p${p} scale`, "drain");
    const base = get("dramats c50 p1 scale", "drain");
    return [`${p} process${p > 1 ? "es" : ""}`, range(d), d && base ? `${(d.median / base.median).toFixed(2)}x` : "-", range(get(`dramats c50 p${p} scale`, "worker_cpu_us"), one1)];
  }),
);
if (transaction) {
  console.log(
    `\ntransactional enqueue (${transaction.mode}): INSERT alone ${fixed(transaction.insert_ms.median, 2)} ms, ` +
      `INSERT + send ${fixed(transaction.with_send_ms.median, 2)} ms per transaction: ${transaction.ratio.toFixed(2)}x (${transaction.count} of each); ` +
      `INSERT + SELECT 1 (one more round trip, no work) ${fixed(transaction.round_trip_ms.median, 2)} ms: ${transaction.round_trip_ratio.toFixed(2)}x; ` +
      `INSERT and enqueue() in one statement ${fixed(transaction.sql_function_ms.median, 2)} ms: ${transaction.sql_function_ratio.toFixed(2)}x`,
  );
}
if (floor) {
  console.log(
    `enqueue floor (dramats' insert statement alone, rows encoded beforehand, bare pg pool): ` +
      `one await at a time ${range(floor.sequential)} msg/s, ${MESSAGES_C50 >= 1_000 ? "1,000" : MESSAGES_C50} per statement ${range(floor.bulk)} msg/s`,
  );
}
console.log(`medians (min-max) of ${ROUNDS} rounds; ${int((Date.now() - started) / 1000)} s`);
if (OUT) {
  writeFileSync(OUT, JSON.stringify({ messages: MESSAGES, messagesC50: MESSAGES_C50, rounds: ROUNDS, sequential: SEQUENTIAL, scaleMessages: SCALE_MESSAGES, fetch, subjects: result, transaction, floor }, null, 2));
}
