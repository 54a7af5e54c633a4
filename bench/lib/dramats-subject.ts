// dramats on a real broker: the bench enqueues through a producer broker in its own process,
// and one worker process, started with the dramats CLI, drains the queue.
// The dramats code (worker and producer alike) comes from a tree: the bench's own by default, or
// another compiled copy, so that A/B runs (bench/ab.ts) compare two commits in one process.
import { Redis } from "ioredis";
import type { Actor, Broker } from "../../lib/index.ts";
import { AMQP_URL, MESSAGES, REDIS_URL, RUN_ID, redisUrlWithNamespace } from "./config.ts";
import { cpuMicros, nowNs, peakRssMb, redisCpuMicros, resetPeakRss, rssMb } from "./proc.ts";
import { deleteRabbitQueues, deleteRedisKeys } from "./cleanup.ts";
import { inChunks, inWindows, modeOf, seconds, WARMUP, type EnqueueMode, type ThroughputSubject } from "./subject.ts";
import { moduleUrl, OWN_TREE, WorkerProcess, type Tree } from "./worker-process.ts";

export type BrokerKind = "redis" | "rabbitmq" | "sqlite";

interface Target {
  producer: Broker;
  url: string;
  cleanup(): Promise<void>;
}

type BrokerClass = new (options: Record<string, unknown>) => Broker;

async function brokerClass(tree: Tree, path: string, name: string): Promise<BrokerClass> {
  return ((await import(moduleUrl(tree, path))) as Record<string, BrokerClass>)[name]!;
}

async function target(tree: Tree, kind: BrokerKind, label: string, queue: string): Promise<Target> {
  if (kind === "redis") {
    const namespace = `bench-${RUN_ID}-${label}`;
    const RedisBroker = await brokerClass(tree, "brokers/redis/index", "RedisBroker");
    return {
      producer: new RedisBroker({ url: REDIS_URL, namespace }),
      url: redisUrlWithNamespace(namespace),
      cleanup: () => deleteRedisKeys(`${namespace}:*`),
    };
  }
  if (kind === "rabbitmq") {
    const RabbitmqBroker = await brokerClass(tree, "brokers/rabbitmq/index", "RabbitmqBroker");
    return {
      producer: new RabbitmqBroker({ url: AMQP_URL }),
      url: AMQP_URL,
      cleanup: () => deleteRabbitQueues([queue]),
    };
  }
  const SqliteBroker = await brokerClass(tree, "brokers/sqlite/index", "SqliteBroker");
  const { mkdtempSync, rmSync } = await import("node:fs");
  const { tmpdir } = await import("node:os");
  const { join } = await import("node:path");
  const dir = mkdtempSync(join(tmpdir(), "dramats-bench-"));
  const path = join(dir, "bench.sqlite");
  return {
    producer: new SqliteBroker({ path }),
    url: `sqlite://${path}`,
    cleanup: async () => rmSync(dir, { recursive: true, force: true }),
  };
}

export class DramatsSubject implements ThroughputSubject {
  readonly name: string;
  readonly #kind: BrokerKind;
  readonly #concurrency: number;
  readonly #queue: string;
  #target!: Target;
  #noop!: Actor<[number], void>;
  #worker!: WorkerProcess;
  #info: Redis | undefined;
  /** Messages sent so far: the count the worker reaches once it drained them all. */
  #sent = 0;
  bootRss: number | undefined;

  readonly #nodeArgs: string[];
  readonly #tree: Tree;
  readonly #env: Record<string, string>;

  /** `label` tells apart subjects of the same kind (A/B runs); it joins the name. */
  constructor(kind: BrokerKind, concurrency: number, options: { nodeArgs?: string[]; tree?: Tree; label?: string; env?: Record<string, string> } = {}) {
    this.#nodeArgs = options.nodeArgs ?? [];
    this.#env = options.env ?? {};
    this.#tree = options.tree ?? OWN_TREE;
    this.#kind = kind;
    this.#concurrency = concurrency;
    const label = options.label ? `${options.label}_` : "";
    this.name = `dramats ${kind} c${concurrency}${options.label ? ` ${options.label}` : ""}`;
    this.#queue = `bench_${RUN_ID}_${label}${kind}_c${concurrency}`;
  }

  /** The pid of the worker process running the actors. */
  get workerPid(): number {
    return this.#worker.pid;
  }

  async setup(): Promise<void> {
    this.#target = await target(this.#tree, this.#kind, this.#queue.replaceAll("_", "-"), this.#queue);
    const broker = this.#target.producer;
    const { actor } = (await import(moduleUrl(this.#tree, "lib/index"))) as typeof import("../../lib/index.ts");
    // The same actor name and queue as the worker's module; the body never runs here.
    this.#noop = actor(function bench_noop(_n: number): void {}, { broker, queueName: this.#queue });
    if (this.#kind === "redis") this.#info = new Redis(REDIS_URL);
    this.#worker = WorkerProcess.dramats({
      name: this.name,
      brokerUrl: this.#target.url,
      threads: this.#concurrency,
      nodeArgs: this.#nodeArgs,
      tree: this.#tree,
      env: { ...this.#env, BENCH_QUEUE: this.#queue },
    });
    await this.#worker.ready();
    // Booted and idle: nothing processed yet (its pid is announced once its modules loaded).
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    this.bootRss = rssMb(this.#worker.pid);
    await this.#enqueue("bulk", WARMUP);
    await this.#worker.waitCount(this.#sent);
  }

  async #enqueue(mode: EnqueueMode, count: number): Promise<void> {
    const noop = this.#noop;
    if (mode === "single") await inWindows(count, (i) => noop.send(i));
    else await inChunks(count, (from, to) => noop.sendMany(Array.from({ length: to - from }, (_, k) => [from + k] as [number])));
    this.#sent += count;
  }

  async round(index: number): Promise<Record<string, number>> {
    const worker = this.#worker;
    const pid = worker.pid;
    const mode = modeOf(index);
    worker.freeze();
    const rest = rssMb(pid);
    resetPeakRss(pid);
    const t0 = nowNs();
    await this.#enqueue(mode, MESSAGES);
    const t1 = nowNs();
    const cpu0 = cpuMicros(pid);
    const redis0 = this.#info ? await redisCpuMicros(this.#info) : Number.NaN;
    const start = nowNs();
    worker.thaw();
    const end = await worker.waitCount(this.#sent);
    const cpu1 = cpuMicros(pid);
    const redis1 = this.#info ? await redisCpuMicros(this.#info) : Number.NaN;
    return {
      [`enqueue_${mode}`]: MESSAGES / seconds(t0, t1),
      drain: MESSAGES / seconds(start, end),
      worker_cpu_us: (cpu1 - cpu0) / MESSAGES,
      redis_cpu_us: (redis1 - redis0) / MESSAGES,
      rss_rest_mb: rest,
      rss_peak_mb: peakRssMb(pid),
    };
  }

  async teardown(): Promise<void> {
    await this.#worker?.close();
    await this.#target?.producer.close();
    this.#info?.disconnect();
    await this.#target?.cleanup();
  }
}
