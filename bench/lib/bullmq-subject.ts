// The BullMQ baseline: the bench adds jobs with a Queue (concurrent `add`, or `addBulk`), and a
// BullMQ Worker in its own process (bench/workers/bullmq-worker.ts) drains them.
import { Queue } from "bullmq";
import { Redis } from "ioredis";
import { MESSAGES, REDIS_URL, RUN_ID } from "./config.ts";
import { bullConnection } from "./bullmq.ts";
import { cpuMicros, nowNs, peakRssMb, redisCpuMicros, resetPeakRss, rssMb } from "./proc.ts";
import { deleteRedisKeys } from "./cleanup.ts";
import { inChunks, inWindows, modeOf, seconds, WARMUP, type EnqueueMode, type ThroughputSubject } from "./subject.ts";
import { WorkerProcess } from "./worker-process.ts";

export class BullSubject implements ThroughputSubject {
  readonly name: string;
  readonly #concurrency: number;
  readonly #prefix: string;
  readonly #queueName = "bench_noop";
  #queue!: Queue;
  #worker!: WorkerProcess;
  #info!: Redis;
  #sent = 0;
  bootRss: number | undefined;

  constructor(concurrency: number) {
    this.#concurrency = concurrency;
    this.name = `bullmq c${concurrency}`;
    this.#prefix = `bench-${RUN_ID}-bull-c${concurrency}`;
  }

  /** The pid of the worker process running the actors. */
  get workerPid(): number {
    return this.#worker.pid;
  }

  async setup(): Promise<void> {
    this.#queue = new Queue(this.#queueName, {
      connection: bullConnection(REDIS_URL),
      prefix: this.#prefix,
      defaultJobOptions: { removeOnComplete: true, removeOnFail: true },
    });
    await this.#queue.waitUntilReady();
    this.#info = new Redis(REDIS_URL);
    this.#worker = WorkerProcess.bullmq({
      name: this.name,
      redisUrl: REDIS_URL,
      queue: this.#queueName,
      prefix: this.#prefix,
      concurrency: this.#concurrency,
    });
    await this.#worker.ready();
    // Booted and idle: nothing processed yet (its pid is announced once its modules loaded).
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    this.bootRss = rssMb(this.#worker.pid);
    await this.#enqueue("bulk", WARMUP);
    await this.#worker.waitCount(this.#sent);
  }

  async #enqueue(mode: EnqueueMode, count: number): Promise<void> {
    const queue = this.#queue;
    if (mode === "single") await inWindows(count, (i) => queue.add("noop", i));
    else await inChunks(count, (from, to) => queue.addBulk(Array.from({ length: to - from }, (_, k) => ({ name: "noop", data: from + k }))));
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
    const redis0 = await redisCpuMicros(this.#info);
    const start = nowNs();
    worker.thaw();
    const end = await worker.waitCount(this.#sent);
    const cpu1 = cpuMicros(pid);
    const redis1 = await redisCpuMicros(this.#info);
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
    await this.#queue?.obliterate({ force: true }).catch(() => undefined);
    await this.#queue?.close();
    this.#info?.disconnect();
    await deleteRedisKeys(`${this.#prefix}:*`);
  }
}
