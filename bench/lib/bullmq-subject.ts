// The BullMQ baseline: the bench adds jobs with a Queue (concurrent `add`, or `addBulk`), and a
// BullMQ Worker in its own process (bench/workers/bullmq-worker.ts) drains them.
import { Queue } from "bullmq";
import { REDIS_URL, RUN_ID } from "./config.ts";
import { bullConnection } from "./bullmq.ts";
import { deleteRedisKeys } from "./cleanup.ts";
import { WorkerSubject } from "./worker-subject.ts";
import { WorkerProcess } from "./worker-process.ts";

export class BullSubject extends WorkerSubject {
  readonly #concurrency: number;
  readonly #prefix: string;
  readonly #queueName = "bench_noop";
  #queue: Queue | undefined;

  constructor(concurrency: number) {
    super(`bullmq c${concurrency}`, { redisCpu: true });
    this.#concurrency = concurrency;
    this.#prefix = `bench-${RUN_ID}-bull-c${concurrency}`;
  }

  protected override async start(): Promise<WorkerProcess> {
    this.#queue = new Queue(this.#queueName, {
      connection: bullConnection(REDIS_URL),
      prefix: this.#prefix,
      defaultJobOptions: { removeOnComplete: true, removeOnFail: true },
    });
    await this.#queue.waitUntilReady();
    return WorkerProcess.bullmq({
      name: this.name,
      redisUrl: REDIS_URL,
      queue: this.#queueName,
      prefix: this.#prefix,
      concurrency: this.#concurrency,
    });
  }

  protected override send(i: number): Promise<unknown> {
    return this.#queue!.add("noop", i);
  }

  protected override sendMany(from: number, to: number): Promise<unknown> {
    return this.#queue!.addBulk(Array.from({ length: to - from }, (_, k) => ({ name: "noop", data: from + k })));
  }

  protected override async stop(): Promise<void> {
    await this.#queue?.obliterate({ force: true }).catch(() => undefined);
    await this.#queue?.close();
    await deleteRedisKeys(`${this.#prefix}:*`);
  }
}
