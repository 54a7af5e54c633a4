// Delayed messages on Redis, the default layout against the fast path (not part of `npm run bench`):
//   node --import tsx bench/redis-delays.ts [--messages 5000] [--delay 2000] [--rounds 6] [--concurrency 50]
// Each round, in alternating order, sends `messages` no-op messages with the same delay to a fresh
// namespace with one in-process worker running, then waits until all have run. Prints the median
// and range per layout of: sends/s, and how long after the eta the last one ran. The default
// layout (`ns:q.DQ`, held by consumers until the eta) is what Python workers can read; the fast
// path (`?delays=zset&priorities=levels`) is read by dramats only. Uses REDIS_URL (default local).
import { randomUUID } from "node:crypto";
import { parseArgs } from "node:util";
import { Redis } from "ioredis";
import { RedisBroker } from "../brokers/redis/index.ts";
import { actor } from "../lib/actor.ts";
import { Worker } from "../lib/worker.ts";

const { values } = parseArgs({
  options: {
    messages: { type: "string", default: "5000" },
    delay: { type: "string", default: "2000" },
    rounds: { type: "string", default: "6" },
    concurrency: { type: "string", default: "50" },
  },
});
const url = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
const messages = Number(values.messages);
const delay = Number(values.delay);
const rounds = Number(values.rounds);
const concurrency = Number(values.concurrency);
const LAYOUTS = { default: {}, fast: { delays: "zset", priorities: "levels" } } as const;
type Layout = keyof typeof LAYOUTS;

async function run(layout: Layout): Promise<{ sendsPerSecond: number; lastAfterEta: number }> {
  const namespace = `dramats-bench-delays-${randomUUID().slice(0, 8)}`;
  const broker = new RedisBroker({ url, namespace, middleware: [], ...LAYOUTS[layout] });
  const queue = "bench_delays";
  broker.declareQueue(queue);
  let ran = 0;
  let allRan!: () => void;
  const done = new Promise<void>((resolve) => (allRan = resolve));
  const noop = actor(function bench_delayed_noop() {
    if (++ran === messages) allRan();
  }, { broker, queueName: queue });
  const worker = new Worker(broker, { queues: [queue], concurrency });
  await worker.start();
  const started = performance.now();
  const eta = Date.now() + delay;
  await Promise.all(Array.from({ length: messages }, () => noop.sendWithOptions({ args: [], delay })));
  const sendsPerSecond = messages / ((performance.now() - started) / 1000);
  await done;
  const lastAfterEta = Date.now() - eta;
  await worker.stop({ timeout: 5_000 });
  await broker.close();
  await deleteNamespace(namespace);
  return { sendsPerSecond, lastAfterEta };
}

async function deleteNamespace(namespace: string): Promise<void> {
  const client = new Redis(url);
  client.on("error", () => undefined);
  let cursor = "0";
  do {
    const [next, keys] = await client.scan(cursor, "MATCH", `${namespace}:*`, "COUNT", 1000);
    cursor = next;
    if (keys.length > 0) await client.del(...keys);
  } while (cursor !== "0");
  client.disconnect();
}

const figures: Record<Layout, { sendsPerSecond: number[]; lastAfterEta: number[] }> = {
  default: { sendsPerSecond: [], lastAfterEta: [] },
  fast: { sendsPerSecond: [], lastAfterEta: [] },
};
for (let round = 0; round < rounds; round++) {
  const order: Layout[] = round % 2 === 0 ? ["default", "fast"] : ["fast", "default"];
  for (const layout of order) {
    const result = await run(layout);
    figures[layout].sendsPerSecond.push(result.sendsPerSecond);
    figures[layout].lastAfterEta.push(result.lastAfterEta);
  }
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 === 1 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const show = (xs: number[]) => `${Math.round(median(xs))} (${Math.round(Math.min(...xs))}-${Math.round(Math.max(...xs))})`;
console.log(`${messages} messages, delay ${delay} ms, concurrency ${concurrency}, ${rounds} rounds: median (range)`);
for (const layout of ["default", "fast"] as const) {
  console.log(`${layout.padEnd(8)} sends/s ${show(figures[layout].sendsPerSecond)}   last ran after eta, ms ${show(figures[layout].lastAfterEta)}`);
}
