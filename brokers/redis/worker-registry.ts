import type { Redis } from "ioredis";
import { byLastBeat, parseWorkerRecord, type WorkerRecord, type WorkerRegistry } from "../../lib/worker-registry.ts";

/** Sorted-set members older than this are dropped on every write, whatever their key's TTL (ms). */
const HORIZON = 86_400_000;
/** Records read per MGET. */
const CHUNK = 200;
/** Records listed at most. */
const MAX_LISTED = 10_000;

/**
 * The Redis broker's worker registry, in its namespace: a string per worker,
 * `ns:__dramats_worker__:<id>` (the JSON record, PX its TTL), and the sorted set
 * `ns:__dramats_workers__` (id → last beat, epoch ms), which readers walk instead of `KEYS`.
 * A write is one MULTI (SET, ZADD, and a trim of members past a day old); a reader drops
 * members whose key expired. Python Dramatiq uses neither key.
 */
export class RedisWorkerRegistry implements WorkerRegistry {
  readonly #redis: Redis;
  /** `ns:__dramats_workers__` */
  readonly index: string;
  readonly #prefix: string;

  constructor(redis: Redis, namespace: string) {
    this.#redis = redis;
    this.index = `${namespace}:__dramats_workers__`;
    this.#prefix = `${namespace}:__dramats_worker__:`;
  }

  /** The key of worker `id`'s record. */
  recordKey(id: string): string {
    return this.#prefix + id;
  }

  async write(record: WorkerRecord, ttl: number): Promise<void> {
    await this.#redis
      .multi()
      .set(this.#prefix + record.id, JSON.stringify(record), "PX", Math.max(1, Math.round(ttl)))
      .zadd(this.index, record.lastBeat, record.id)
      .zremrangebyscore(this.index, "-inf", `(${record.lastBeat - HORIZON}`)
      .exec();
  }

  async list(): Promise<WorkerRecord[]> {
    const ids = await this.#redis.zrevrange(this.index, 0, MAX_LISTED - 1);
    const records: WorkerRecord[] = [];
    const gone: string[] = [];
    for (let i = 0; i < ids.length; i += CHUNK) {
      const chunk = ids.slice(i, i + CHUNK);
      const texts = await this.#redis.mget(chunk.map((id) => this.#prefix + id));
      texts.forEach((text, j) => {
        if (text === null) gone.push(chunk[j]!);
        else {
          const record = parseWorkerRecord(text, this.#prefix + chunk[j]!);
          if (record !== undefined) records.push(record);
        }
      });
    }
    if (gone.length > 0) await this.#redis.zrem(this.index, ...gone);
    return records.sort(byLastBeat);
  }

  async remove(id: string): Promise<void> {
    await this.#redis.multi().del(this.#prefix + id).zrem(this.index, id).exec();
  }
}
