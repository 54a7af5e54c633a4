// The Redis limit: a raw ioredis loop in the bench process that moves the same messages in
// Dramatiq's layout (ids on a list, payloads in a hash) with the fewest round trips:
// pipelined push (one HSET + one RPUSH per 1,000), batched pop (LPOP 100, then HMGET their
// payloads) and batched ack (one HDEL per batch, pipelined with the next pop). Each payload is
// a dramats message of the same size, and is JSON-decoded, as a worker would.
import { Redis } from "ioredis";
import { randomUUID } from "node:crypto";
import { Message } from "../../lib/message.ts";
import { MESSAGES, REDIS_URL, RUN_ID } from "./config.ts";
import { nowNs, redisCpuMicros } from "./proc.ts";
import { seconds, WINDOW, type ThroughputSubject } from "./subject.ts";

const POP_BATCH = 100;

export class RawRedisSubject implements ThroughputSubject {
  readonly name = "raw ioredis";
  readonly #list = `bench-${RUN_ID}-raw:q`;
  readonly #hash = `bench-${RUN_ID}-raw:q.msgs`;
  #redis!: Redis;
  #info!: Redis;

  async setup(): Promise<void> {
    this.#redis = new Redis(REDIS_URL);
    this.#info = new Redis(REDIS_URL);
    await this.#push(Math.min(MESSAGES, 5_000));
    await this.#drain(Math.min(MESSAGES, 5_000));
  }

  async #push(count: number): Promise<void> {
    for (let base = 0; base < count; base += WINDOW) {
      const fields: string[] = [];
      const ids: string[] = [];
      for (let i = base; i < Math.min(count, base + WINDOW); i++) {
        const id = randomUUID();
        const data = new Message({ queueName: "bench_noop", actorName: "bench_noop", args: [i] }).asData();
        fields.push(id, JSON.stringify({ ...data, options: { redis_message_id: id } }));
        ids.push(id);
      }
      await this.#redis.pipeline().hset(this.#hash, ...fields).rpush(this.#list, ...ids).exec();
    }
  }

  async #drain(count: number): Promise<void> {
    const redis = this.#redis;
    let done = 0;
    let lastAck: Promise<unknown> = Promise.resolve();
    while (done < count) {
      const ids = await redis.lpop(this.#list, POP_BATCH);
      if (ids === null || ids.length === 0) throw new Error(`raw ioredis: queue empty after ${done} of ${count}`);
      const bodies = await redis.hmget(this.#hash, ...ids);
      for (const body of bodies) JSON.parse(body!);
      lastAck = redis.hdel(this.#hash, ...ids);
      done += ids.length;
    }
    await lastAck;
  }

  async round(): Promise<Record<string, number>> {
    const t0 = nowNs();
    await this.#push(MESSAGES);
    const t1 = nowNs();
    const redis0 = await redisCpuMicros(this.#info);
    const cpu0 = process.cpuUsage();
    const start = nowNs();
    await this.#drain(MESSAGES);
    const end = nowNs();
    const cpu = process.cpuUsage(cpu0);
    const redis1 = await redisCpuMicros(this.#info);
    return {
      enqueue_bulk: MESSAGES / seconds(t0, t1),
      drain: MESSAGES / seconds(start, end),
      worker_cpu_us: (cpu.user + cpu.system) / MESSAGES,
      redis_cpu_us: (redis1 - redis0) / MESSAGES,
    };
  }

  async teardown(): Promise<void> {
    await this.#redis?.del(this.#list, this.#hash);
    this.#redis?.disconnect();
    this.#info?.disconnect();
  }
}
