// What the throughput subjects with a worker of their own (dramats on a broker, BullMQ) share:
// boot the worker and read its RSS, warm up, then rounds of measureRound with the worker frozen
// (SIGSTOP) while the bench enqueues. A subclass says how it sends and starts its worker.
import { setTimeout as sleep } from "node:timers/promises";
import { Redis } from "ioredis";
import { REDIS_URL } from "./config.ts";
import { redisCpuMicros, rssMb, summed } from "./proc.ts";
import { enqueue, measureRound, modeOf, WARMUP, type Drainable, type ThroughputSubject } from "./subject.ts";
import type { WorkerProcess } from "./worker-process.ts";

export abstract class WorkerSubject implements ThroughputSubject {
  readonly name: string;
  #worker: WorkerProcess | undefined;
  /** Reads Redis's CPU (INFO), for subjects on Redis. */
  #info: Redis | undefined;
  readonly #redisCpu: boolean;
  /** Messages sent so far: the count the worker reaches once it drained them all. */
  #sent = 0;
  bootRss: number | undefined;

  constructor(name: string, options: { redisCpu: boolean }) {
    this.name = name;
    this.#redisCpu = options.redisCpu;
  }

  /** Connects the producer and spawns the worker process (the base class waits for it). */
  protected abstract start(): Promise<WorkerProcess>;
  /** Sends one message with argument `i`. */
  protected abstract send(i: number): Promise<unknown>;
  /** Sends messages `from`..`to`-1 in one bulk call. */
  protected abstract sendMany(from: number, to: number): Promise<unknown>;
  /** Closes the producer and deletes what the subject created; the worker is stopped already. */
  protected abstract stop(): Promise<void>;
  /** Whether the frozen worker holds a lock the producer needs (see BrokerTarget.writeLocked). */
  protected holdsLock(): boolean {
    return false;
  }

  get #running(): WorkerProcess {
    if (this.#worker === undefined) throw new Error(`${this.name} has not started`);
    return this.#worker;
  }

  /** The processes running the actors. */
  get workerPids(): readonly number[] {
    return this.#running.pids;
  }

  /** The first (with --processes 1, the only) process running the actors. */
  get workerPid(): number {
    return this.#running.pid;
  }

  async setup(): Promise<void> {
    if (this.#redisCpu) this.#info = new Redis(REDIS_URL);
    this.#worker = await this.start();
    await this.#worker.ready();
    // Booted and idle: nothing processed yet (its pid is announced once its modules loaded).
    await sleep(1_000);
    this.bootRss = summed(this.#worker.pids, rssMb);
    await enqueue(this.#drainable(), "bulk", WARMUP);
    await this.#worker.waitCount(this.#sent);
  }

  round(index: number): Promise<Record<string, number>> {
    return measureRound(this.#drainable(), modeOf(index));
  }

  /** This subject as measureRound sees it; counts what it sends. */
  #drainable(): Drainable {
    const worker = this.#running;
    const info = this.#info;
    return {
      pids: worker.pids,
      freeze: () => this.#freeze(worker),
      thaw: () => worker.thaw(),
      send: (i) => {
        this.#sent++;
        return this.send(i);
      },
      sendMany: (from, to) => {
        this.#sent += to - from;
        return this.sendMany(from, to);
      },
      drained: () => worker.waitCount(this.#sent),
      serverCpu: info && (() => redisCpuMicros(info)),
    };
  }

  /** Freezes the worker at a moment it holds no lock the producer needs: else lets it finish. */
  async #freeze(worker: WorkerProcess): Promise<void> {
    for (;;) {
      worker.freeze();
      if (!this.holdsLock()) return;
      worker.thaw();
      await sleep(1);
    }
  }

  async teardown(): Promise<void> {
    await this.#worker?.close();
    await this.stop();
    this.#info?.disconnect();
  }
}
