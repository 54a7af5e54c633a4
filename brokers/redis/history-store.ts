import type { Redis } from "ioredis";
import { checkMinute, encodeHistoryBucket, HISTORY_TTL, minutesBetween, parseHistoryBucket, type HistoryBucket, type HistoryStore, type StoredBucket } from "../../lib/history-store.ts";

/**
 * The Redis broker's history store, in its namespace: a hash per minute,
 * `ns:__dramats_history__:<minute start, epoch ms>`, field = worker id, value = the bucket's
 * compact JSON. A write is one MULTI (HSET, and EXPIRE 25 h from that write); a read of any
 * range (up to 1500 minutes) is one pipeline of HGETALLs: one round trip. Python Dramatiq uses
 * no such key.
 */
export class RedisHistoryStore implements HistoryStore {
  readonly #redis: Redis;
  readonly #prefix: string;

  constructor(redis: Redis, namespace: string) {
    this.#redis = redis;
    this.#prefix = `${namespace}:__dramats_history__:`;
  }

  /** The key of minute `minute`'s hash. */
  minuteKey(minute: number): string {
    return this.#prefix + minute;
  }

  async write(minute: number, workerId: string, bucket: HistoryBucket): Promise<void> {
    checkMinute(minute);
    const key = this.#prefix + minute;
    const replies = await this.#redis.multi().hset(key, workerId, encodeHistoryBucket(bucket)).pexpire(key, HISTORY_TTL).exec();
    for (const [error] of replies ?? []) if (error) throw error;
  }

  async read(fromMinute: number, toMinute: number): Promise<StoredBucket[]> {
    // Minutes past the TTL are not read: a write of an old minute (a late worker) still expires 25 h after it.
    const horizon = Date.now() - HISTORY_TTL;
    const minutes = minutesBetween(fromMinute, toMinute).filter((minute) => minute >= horizon);
    const pipeline = this.#redis.pipeline();
    for (const minute of minutes) pipeline.hgetall(this.#prefix + minute);
    const replies = (await pipeline.exec()) ?? [];
    const out: StoredBucket[] = [];
    replies.forEach(([error, fields], i) => {
      if (error) throw error;
      const minute = minutes[i]!;
      for (const [workerId, text] of Object.entries(fields as Record<string, string>)) {
        const bucket = parseHistoryBucket(text, `${this.#prefix}${minute} ${workerId}`);
        if (bucket !== undefined) out.push({ minute, workerId, bucket });
      }
    });
    return out;
  }
}
