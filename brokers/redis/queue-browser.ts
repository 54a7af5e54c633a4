import type { Redis } from "ioredis";
import type { Encoder } from "../../lib/encoder.ts";
import { checkBrowse, listedId, type BrowseOptions, type BrowsePage, type FoundMessage, type QueueBrowser, type StoredMessage } from "../../lib/queue-browser.ts";
import { assertQueueName } from "../../lib/queue-names.ts";
import type { RedisKeys } from "./keys.ts";
import type { Scripts } from "./scripts.ts";

/** Re-exported so the broker names its getter's type in one import with the class. */
export type { QueueBrowser } from "../../lib/queue-browser.ts";

/** Hash fields one browse-scan.lua step looks at: about a millisecond of the server's time. */
const SCAN_COUNT = 1000;
/** Dead letters deleted per MULTI. */
const DELETE_CHUNK = 1000;
/** Ids searched for per scan of the dead letters (each is a substring search per payload). */
const NEEDLES = 100;
/** What a dead letter without a recorded reason says (as `deadLetters()`). */
const NO_REASON = "Dead-lettered by another client (no reason recorded)";

/** What the browser needs of its broker. */
export interface RedisBrowserHost {
  /** The broker's command connection. */
  readonly redis: Redis;
  readonly keys: RedisKeys;
  readonly scripts: Scripts;
  /** Reads a payload (for its message id). */
  decode(body: string): { messageId: string };
  /** The broker's encoder (for a delay-queue payload's eta). */
  readonly encoder: Encoder;
  /** Runs a Redis operation, turning its failure into the broker's error. */
  call<T>(what: string, operation: () => Promise<T>): Promise<T>;
}

/** A delayed entry: in `ns:q:delayed` (payload in `ns:q.msgs`) or in Dramatiq's `ns:q.DQ.msgs`. */
interface DelayedRef {
  rid: string;
  eta: number | null;
  dq: boolean;
}

/**
 * The Redis broker's queue browser (lib/queue-browser.ts), over both layouts (common.lua):
 * - ready: the priority lists in fetch order (negative levels, Dramatiq's `ns:q`, positive
 *   levels), paged with LLEN + LRANGE, payloads by one HMGET;
 * - delayed: `ns:q:delayed` by score (ZRANGE) and Dramatiq's delay queue `ns:q.DQ.msgs`, whose
 *   etas are in the payloads: when that hash is not empty it is walked (browse-scan.lua returns
 *   only rids and etas, a step at a time) and merged, so paging the Dramatiq layout's delayed
 *   messages costs one walk of them (the held ones included: consumers hold them in place);
 * - dead: `ns:q.XQ` newest first (ZREVRANGE), payloads and reasons by HMGET.
 * Payloads are keyed by the broker's id (rid), not the message id: looking one up by message id
 * walks the payload hashes on the server (browse-scan.lua) and decodes only the candidates.
 */
export class RedisQueueBrowser implements QueueBrowser {
  readonly #host: RedisBrowserHost;

  constructor(host: RedisBrowserHost) {
    this.#host = host;
  }

  async browse(queueName: string, options: BrowseOptions): Promise<BrowsePage> {
    checkBrowse(queueName, options);
    const base = this.#host.keys.queue(queueName);
    return this.#host.call("browse", () => {
      if (options.state === "ready") return this.#ready(base, options.offset, options.limit);
      if (options.state === "delayed") return this.#delayed(base, options.offset, options.limit);
      return this.#dead(base, options.offset, options.limit);
    });
  }

  /** The ready lists, in the order fetch.lua takes from them. */
  async #readyLists(base: string): Promise<{ key: string; length: number }[]> {
    const redis = this.#host.redis;
    const levels = (await redis.zrange(`${base}:levels`, 0, "-1")).map(Number).filter((p) => Number.isInteger(p) && p !== 0);
    const keys = [...levels.filter((p) => p < 0).map((p) => `${base}:level:${p}`), base, ...levels.filter((p) => p > 0).map((p) => `${base}:level:${p}`)];
    const lengths = await Promise.all(keys.map((key) => redis.llen(key)));
    return keys.map((key, i) => ({ key, length: lengths[i]! }));
  }

  async #ready(base: string, offset: number, limit: number): Promise<BrowsePage> {
    const redis = this.#host.redis;
    const lists = await this.#readyLists(base);
    const total = lists.reduce((sum, list) => sum + list.length, 0);
    // Each list's share of [offset, offset + limit): one LRANGE each, of at most `limit` ids.
    const ranges: Promise<string[]>[] = [];
    let before = 0;
    let wanted = limit;
    for (const { key, length } of lists) {
      const start = Math.max(0, offset - before);
      before += length;
      if (wanted <= 0 || start >= length) continue;
      const count = Math.min(length - start, wanted);
      ranges.push(redis.lrange(key, start, start + count - 1));
      wanted -= count;
    }
    const rids = (await Promise.all(ranges)).flat();
    const bodies = await this.#bodies(`${base}.msgs`, rids);
    const messages: StoredMessage[] = [];
    rids.forEach((rid, i) => {
      const body = bodies[i];
      if (body !== null && body !== undefined) messages.push({ id: this.#id(body, rid), body });
    });
    return { total, messages };
  }

  async #delayed(base: string, offset: number, limit: number): Promise<BrowsePage> {
    const redis = this.#host.redis;
    const [inSet, inDq] = await Promise.all([redis.zcard(`${base}:delayed`), redis.hlen(`${base}.DQ.msgs`)]);
    const total = inSet + inDq;
    if (limit === 0 || offset >= total) return { total, messages: [] };
    let page: DelayedRef[];
    if (inDq === 0) {
      page = pairs(await redis.zrange(`${base}:delayed`, offset, String(offset + limit - 1), "WITHSCORES")).map(([rid, eta]) => ({ rid, eta, dq: false }));
    } else {
      // Dramatiq's delay queue is in arrival order, its etas in the payloads: walk it, merge.
      const fromSet = pairs(await redis.zrange(`${base}:delayed`, 0, String(offset + limit - 1), "WITHSCORES")).map(([rid, eta]) => ({ rid, eta, dq: false }));
      const fromDq = [...(await this.#dqEtas(`${base}.DQ.msgs`))].map(([rid, eta]) => ({ rid, eta, dq: true }));
      page = [...fromSet, ...fromDq].sort(byEta).slice(offset, offset + limit);
    }
    const [setBodies, dqBodies] = await Promise.all([
      this.#bodies(`${base}.msgs`, page.filter((r) => !r.dq).map((r) => r.rid)),
      this.#bodies(`${base}.DQ.msgs`, page.filter((r) => r.dq).map((r) => r.rid)),
    ]);
    const messages: StoredMessage[] = [];
    for (const ref of page) {
      const body = (ref.dq ? dqBodies : setBodies).shift();
      if (body === null || body === undefined) continue;
      const message: StoredMessage = { id: this.#id(body, ref.rid), body };
      if (ref.eta !== null) message.eta = ref.eta;
      messages.push(message);
    }
    return { total, messages };
  }

  /** rid → eta of every payload of Dramatiq's delay queue, held ones included (browse-scan.lua). */
  async #dqEtas(hash: string): Promise<Map<string, number | null>> {
    const etas = new Map<string, number | null>();
    let cursor = "0";
    do {
      const step = await this.#host.scripts.scanEtas(hash, cursor, SCAN_COUNT);
      for (const [rid, eta] of step.etas) etas.set(rid, eta);
      cursor = step.cursor;
    } while (cursor !== "0");
    return etas;
  }

  async #dead(base: string, offset: number, limit: number): Promise<BrowsePage> {
    const redis = this.#host.redis;
    const [total, entries] = await Promise.all([
      redis.zcard(`${base}.XQ`),
      limit === 0 ? Promise.resolve([]) : redis.zrevrange(`${base}.XQ`, offset, offset + limit - 1, "WITHSCORES"),
    ]);
    const dead = pairs(entries);
    const rids = dead.map(([rid]) => rid);
    const [bodies, reasons] = await Promise.all([this.#bodies(`${base}.XQ.msgs`, rids), this.#bodies(`${base}:reasons`, rids)]);
    const messages: StoredMessage[] = [];
    dead.forEach(([rid, deadAt], i) => {
      const body = bodies[i];
      if (body !== null && body !== undefined) messages.push({ id: this.#id(body, rid), body, reason: reasons[i] ?? NO_REASON, deadAt });
    });
    return { total, messages };
  }

  async find(queueName: string, id: string): Promise<FoundMessage | undefined> {
    assertQueueName(queueName);
    if (id === "") return undefined; // no message has an empty id (and it would match every payload)
    const base = this.#host.keys.queue(queueName);
    return this.#host.call("find", async () => {
      // The broker's own id first (listed for bodies that do not decode), then by message id.
      const direct = await this.#classify(base, [{ hash: "msgs", rid: id }, { hash: "DQ.msgs", rid: id }, { hash: "XQ.msgs", rid: id }]);
      if (direct !== undefined) return direct;
      for (const hash of ["msgs", "DQ.msgs", "XQ.msgs"] as const) {
        let cursor = "0";
        do {
          const step = await this.#host.scripts.scanMatches(`${base}.${hash}`, cursor, SCAN_COUNT, [id]);
          const mine = step.found.filter(([rid, body]) => this.#id(body, rid) === id).map(([rid]) => ({ hash, rid }));
          const found = mine.length === 0 ? undefined : await this.#classify(base, mine);
          if (found !== undefined) return found;
          cursor = step.cursor;
        } while (cursor !== "0");
      }
      return undefined;
    });
  }

  /** The first of `candidates` that is ready, delayed or dead now (in flight is none of these). */
  async #classify(base: string, candidates: { hash: "msgs" | "DQ.msgs" | "XQ.msgs"; rid: string }[]): Promise<FoundMessage | undefined> {
    const redis = this.#host.redis;
    for (const { hash, rid } of candidates) {
      const body = await redis.hget(`${base}.${hash}`, rid);
      if (body === null) continue;
      const id = this.#id(body, rid);
      if (hash === "DQ.msgs") {
        const eta = this.#etaOf(body);
        return { state: "delayed", message: eta === undefined ? { id, body } : { id, body, eta } };
      }
      if (hash === "XQ.msgs") {
        const [deadAt, reason] = await Promise.all([redis.zscore(`${base}.XQ`, rid), redis.hget(`${base}:reasons`, rid)]);
        if (deadAt !== null) return { state: "dead", message: { id, body, reason: reason ?? NO_REASON, deadAt: Number(deadAt) } };
        continue;
      }
      const eta = await redis.zscore(`${base}:delayed`, rid);
      if (eta !== null) return { state: "delayed", message: { id, body, eta: Number(eta) } };
      const lists = await this.#readyLists(base);
      const places = await Promise.all(lists.map(({ key, length }) => (length === 0 ? null : redis.lpos(key, rid))));
      if (places.some((place) => place !== null)) return { state: "ready", message: { id, body } };
    }
    return undefined;
  }

  async deleteDeadLetters(queueName: string, ids: readonly string[]): Promise<number> {
    assertQueueName(queueName);
    const base = this.#host.keys.queue(queueName);
    const wanted = [...new Set(ids)].filter((id) => id !== "");
    if (wanted.length === 0) return 0;
    return this.#host.call("deleteDeadLetters", async () => {
      const redis = this.#host.redis;
      // Ids that are rids of dead letters, then the others by message id (a walk of the payloads).
      const scores = await redis.zmscore(`${base}.XQ`, ...wanted);
      const rids = new Set(wanted.filter((_, i) => scores[i] !== null));
      const byMessageId = new Set(wanted.filter((_, i) => scores[i] === null));
      for (let i = 0; i < byMessageId.size; i += NEEDLES) {
        const needles = [...byMessageId].slice(i, i + NEEDLES);
        let cursor = "0";
        do {
          const step = await this.#host.scripts.scanMatches(`${base}.XQ.msgs`, cursor, SCAN_COUNT, needles);
          for (const [rid, body] of step.found) if (byMessageId.has(this.#id(body, rid))) rids.add(rid);
          cursor = step.cursor;
        } while (cursor !== "0");
      }
      // A rid no longer in `ns:q.XQ` (requeued or trimmed meanwhile) is not counted; its other
      // fields went with it. One MULTI per chunk: each message goes whole.
      let deleted = 0;
      const all = [...rids];
      for (let i = 0; i < all.length; i += DELETE_CHUNK) {
        const chunk = all.slice(i, i + DELETE_CHUNK);
        const replies = await redis.multi().zrem(`${base}.XQ`, ...chunk).hdel(`${base}.XQ.msgs`, ...chunk).hdel(`${base}:reasons`, ...chunk).exec();
        const [error, removed] = replies?.[0] ?? [new Error("MULTI was discarded"), 0];
        if (error) throw error;
        deleted += Number(removed);
      }
      return deleted;
    });
  }

  /** HMGET of `fields` (none: no command). */
  async #bodies(hash: string, fields: readonly string[]): Promise<(string | null)[]> {
    return fields.length === 0 ? [] : this.#host.redis.hmget(hash, ...fields);
  }

  #id(body: string, rid: string): string {
    return listedId((b) => this.#host.decode(b), body, rid);
  }

  /** The eta a delay-queue payload carries (`options.eta`), if it decodes and has one. */
  #etaOf(body: string): number | undefined {
    try {
      const eta = this.#host.encoder.decode(body).options?.eta;
      return typeof eta === "number" ? eta : undefined;
    } catch {
      return undefined;
    }
  }
}

/** A flat WITHSCORES reply as [member, score] pairs. */
function pairs(flat: readonly string[]): [string, number][] {
  const out: [string, number][] = [];
  for (let i = 0; i < flat.length; i += 2) out.push([flat[i]!, Number(flat[i + 1])]);
  return out;
}

/** Soonest first; no readable eta first (fetch.lua takes such a message for due); then by rid, as ZRANGE orders ties. */
function byEta(a: DelayedRef, b: DelayedRef): number {
  const ea = a.eta ?? -Infinity;
  const eb = b.eta ?? -Infinity;
  if (ea !== eb) return ea < eb ? -1 : 1;
  return a.rid < b.rid ? -1 : a.rid > b.rid ? 1 : 0;
}
