// A short A/B of the RabbitMQ broker between two checkouts, for a machine too loaded for the full
// bench: `node --import tsx bench/rabbitmq-ab.ts --tree A=<dir> --tree B=<dir> [--rounds 7]
// [--messages 20000] [--concurrency 50]`. Each round runs every tree once, in turn (so drift in
// the machine's load hits both alike): confirmed single publishes (`enqueue`, all in flight at
// once), a bulk send (`enqueueMany`), then a drain of no-op messages by one in-process worker.
// Prints the median and range of each figure per tree: msg/s, and this process's CPU time per
// message (user + system), which a loaded machine disturbs less than throughput. Uses AMQP_URL (default the local server).
import { performance } from "node:perf_hooks";
import { parseArgs } from "node:util";

const { values } = parseArgs({
  options: {
    tree: { type: "string", multiple: true },
    rounds: { type: "string", default: "7" },
    messages: { type: "string", default: "20000" },
    concurrency: { type: "string", default: "50" },
  },
});
const url = process.env.AMQP_URL ?? "amqp://guest:guest@127.0.0.1:5672";
const trees = (values.tree ?? []).map((spec) => {
  const at = spec.indexOf("=");
  return { label: spec.slice(0, at), dir: spec.slice(at + 1).replace(/\/$/, "") };
});
if (trees.length === 0) throw new Error("give at least one --tree LABEL=DIR");
const rounds = Number(values.rounds);
const messages = Number(values.messages);
const concurrency = Number(values.concurrency);

const PHASES = ["publish", "bulk", "drain"] as const;
type Figures = Record<(typeof PHASES)[number] | "publishCpu" | "bulkCpu" | "drainCpu", number[]>;
const results = new Map<string, Figures>(trees.map((t) => [t.label, { publish: [], bulk: [], drain: [], publishCpu: [], bulkCpu: [], drainCpu: [] }]));

/** Starts a clock; the returned function records msg/s and CPU µs/msg for `count` messages. */
function measure(figures: Figures, phase: (typeof PHASES)[number], count: number): () => void {
  const start = performance.now();
  const cpu = process.cpuUsage();
  return () => {
    const used = process.cpuUsage(cpu);
    figures[phase].push(count / ((performance.now() - start) / 1000));
    figures[`${phase}Cpu`].push((used.user + used.system) / count);
  };
}

async function once(dir: string, round: number, figures: Figures): Promise<void> {
  const { RabbitmqBroker } = (await import(`${dir}/brokers/rabbitmq/index.ts`)) as typeof import("../brokers/rabbitmq/index.ts");
  const { actor, Worker } = (await import(`${dir}/lib/index.ts`)) as typeof import("../lib/index.ts");
  const broker = new RabbitmqBroker({ url, middleware: [] });
  const queue = `ab_${process.pid}_${round}_${Math.random().toString(36).slice(2, 8)}`;
  const noop = actor(function ab_noop(_n: number): void {}, { broker, queueName: queue });
  try {
    await noop.send(-1);
    let done = measure(figures, "publish", messages);
    await Promise.all(Array.from({ length: messages }, (_, i) => noop.send(i)));
    done();
    done = measure(figures, "bulk", messages);
    await broker.enqueueMany(Array.from({ length: messages }, (_, i) => noop.message(i)));
    done();
    const total = 2 * messages + 1;
    const worker = new Worker(broker, { concurrency });
    done = measure(figures, "drain", total);
    await worker.start();
    while (worker.processed < total) await new Promise((resolve) => setTimeout(resolve, 2));
    done();
    await worker.stop({ timeout: 5_000 });
  } finally {
    await broker.flush(queue).catch(() => {});
    await broker.close();
    const amqp = (await import("amqplib")).default;
    const connection = await amqp.connect(url);
    const channel = await connection.createChannel();
    const { rabbitmqQueueNames } = await import("../brokers/rabbitmq/declarations.ts");
    for (const name of rabbitmqQueueNames(queue)) await channel.deleteQueue(name);
    await connection.close();
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
const fmt = (xs: number[], digits = 0) => {
  const n = (x: number) => x.toLocaleString("en", { maximumFractionDigits: digits, minimumFractionDigits: digits });
  return `${n(median(xs))} (${n(Math.min(...xs))}-${n(Math.max(...xs))})`;
};

for (let round = 0; round < rounds; round++) {
  // Alternate which tree goes first.
  const order = round % 2 === 0 ? trees : [...trees].reverse();
  for (const tree of order) await once(tree.dir, round, results.get(tree.label)!);
  console.error(`round ${round + 1}/${rounds} done`);
}
console.log(`msg/s, median (min-max) of ${rounds} rounds; ${messages} messages per figure, worker concurrency ${concurrency}`);
console.log(["tree", "confirmed enqueue msg/s", "enqueueMany msg/s", "drain msg/s", "enqueue CPU µs/msg", "enqueueMany CPU µs/msg", "drain CPU µs/msg"].join("\t"));
for (const [label, f] of results) console.log([label, fmt(f.publish), fmt(f.bulk), fmt(f.drain), fmt(f.publishCpu, 1), fmt(f.bulkCpu, 1), fmt(f.drainCpu, 1)].join("\t"));
