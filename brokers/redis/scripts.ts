import { readFileSync } from "node:fs";
import type { Redis } from "ioredis";

/** Bumped whenever a script's KEYS/ARGV contract changes. */
const SCRIPT_VERSION = 4;

/** Every script and its number of KEYS; each file's header documents its contract. */
const SCRIPTS = {
  enqueue: 1,
  "enqueue-once": 1,
  fetch: 4,
  ack: 2,
  nack: 2,
  retry: 2,
  requeue: 2,
  release: 4,
  heartbeat: 2,
  maintenance: 3,
  recover: 2,
  stats: 1,
  flush: 1,
  "dead-letters": 1,
  "requeue-dead": 1,
  "delay-queue": 2,
  oldest: 1,
  "browse-scan": 1,
} as const;

type ScriptName = keyof typeof SCRIPTS;

/** The ioredis command a script is defined as. */
function commandName(name: ScriptName): string {
  return `dramats_${name.replace("-", "_")}_v${SCRIPT_VERSION}`;
}

/**
 * Scripts written to the socket at once instead of waiting for the auto-pipeline's
 * setImmediate: a fetch sent while the worker still runs the rest of its window comes back
 * before the worker runs dry; acks and enqueues are batched per turn by our own Batchers
 * already, so the auto-pipeline only added a turn of latency to them.
 */
export const UNPIPELINED_COMMANDS: readonly string[] = [commandName("fetch"), commandName("ack"), commandName("enqueue")];
type Arg = string | number;

/** Keys of maintenance.lua. */
export interface MaintenanceKeys {
  heartbeats: string;
  registry: string;
  seen: string;
  prefix: string;
}

/** Where the last maintenance step stopped (maintenance.lua's header). */
export interface MaintenanceCursors {
  registry: string;
  score: string;
  member: string;
  seen: string;
}

/** Arguments of maintenance.lua. */
export interface MaintenanceArgs {
  heartbeatTimeout: number;
  deadTtl: number;
  limit: number;
  cursors: MaintenanceCursors;
  queues: readonly string[];
}

/** What one maintenance step did. */
export interface MaintenanceReply {
  reaped: number;
  requeued: number;
  trimmed: number;
  forgotten: number;
  cursors: MaintenanceCursors;
  foreignClockAhead: number;
}
type Call = (...args: Arg[]) => Promise<unknown>;

let sources: Map<ScriptName, string> | undefined;

/** Reads the `.lua` files next to this module (copied to `dist/` by the build), once. */
function loadSources(): Map<ScriptName, string> {
  if (sources) return sources;
  const read = (name: string) => readFileSync(new URL(`./${name}.lua`, import.meta.url), "utf8");
  // No preprocessor: the shared helpers are simply prepended to every script.
  const common = read("common");
  sources = new Map();
  for (const name of Object.keys(SCRIPTS) as ScriptName[]) sources.set(name, `${common}\n${read(name)}`);
  return sources;
}

/** A message of Dramatiq's delay queue `ns:q.DQ` a consumer took to hold until its eta. */
export interface HeldDelayed {
  rid: string;
  body: string;
  /** ms until its eta, by the server's clock (0: due). Its body is "" unless asked for. */
  dueIn: number;
}

/** What `fetch.lua` returns. */
export interface FetchReply {
  /** ms until the next delayed message is due; -1 when none is (only computed when no message was taken). */
  wait: number;
  /** Delay-queue messages taken to hold (only with `hold` >= 0). */
  held: HeldDelayed[];
  /** The messages taken: redis message id, payload and, for one that was delayed, its eta (the consumer's deliveries as they are). */
  messages: { rid: string; body: string; eta?: number }[];
}

export interface StatsReply {
  ready: number;
  delayed: number;
  inFlight: number;
  dead: number;
  /** The server's clock at the call, and the dead letters scored exactly then: a join's cursor. */
  now: number;
  deadAtNow: string[];
  deadId: string | null;
  deadReason: string | null;
  deadBody: string | null;
}

export interface RawDeadLetter {
  rid: string;
  body: string;
  reason: string | null;
  deadAt: number;
}

/**
 * The broker's Lua scripts, registered on one ioredis connection with `defineCommand`
 * (EVALSHA, falling back to EVAL after a server restart) and called through typed methods.
 */
export class Scripts {
  readonly #calls = new Map<ScriptName, Call>();

  constructor(redis: Redis) {
    for (const [name, lua] of loadSources()) {
      const command = commandName(name);
      redis.defineCommand(command, { numberOfKeys: SCRIPTS[name], lua });
      const fn = (redis as unknown as Record<string, Call>)[command]!;
      this.#calls.set(name, fn.bind(redis));
    }
  }

  #call(name: ScriptName, ...args: Arg[]): Promise<unknown> {
    return this.#calls.get(name)!(...args);
  }

  /** `entries` are flat groups of rid, payload, priority, delay, dq, eta tail (see enqueue.lua). */
  async enqueue(base: string, entries: Arg[]): Promise<number> {
    return (await this.#call("enqueue", base, ...entries)) as number;
  }

  /** `entries` are flat groups of base, rid, payload, priority, delay, dq, eta tail; true when `claim` was set and they were stored. */
  async enqueueOnce(claim: string, value: string, ttl: number, entries: Arg[]): Promise<boolean> {
    return ((await this.#call("enqueue-once", claim, value, ttl, ...entries)) as number) === 1;
  }

  /**
   * Acks `finished` (rids the consumer holds), then fetches up to `max`. `hold` >= 0: take up to
   * that many delay-queue ids to hold; < 0: move them into the sorted set (fetch.lua).
   */
  async fetch(
    base: string,
    acks: string,
    heartbeats: string,
    registry: string,
    max: number,
    consumerId: string,
    queue: string,
    moveLimit: number,
    limits: { maxSize: number; deadTtl: number; hold: number; holdBodies: boolean },
    finished: readonly string[] = [],
  ): Promise<FetchReply> {
    const reply = (await this.#call("fetch", base, acks, heartbeats, registry, max, consumerId, queue, moveLimit, limits.maxSize, limits.deadTtl, limits.hold, limits.holdBodies ? "1" : "", ...finished)) as (string | number)[];
    const held: HeldDelayed[] = [];
    const heldEnd = 3 + 3 * Number(reply[1]);
    for (let i = 3; i < heldEnd; i += 3) held.push({ rid: reply[i] as string, body: reply[i + 1] as string, dueIn: Number(reply[i + 2]) });
    const etaCount = Number(reply[2]);
    const messagesEnd = reply.length - 2 * etaCount;
    const messages: { rid: string; body: string; eta?: number }[] = [];
    for (let i = heldEnd; i < messagesEnd; i += 2) messages.push({ rid: reply[i] as string, body: reply[i + 1] as string });
    if (etaCount > 0) {
      // Few (only messages that were delayed): matched by rid, in fetch order.
      const etas = new Map<string, number>();
      for (let i = messagesEnd; i < reply.length; i += 2) etas.set(reply[i] as string, Number(reply[i + 1]));
      for (const message of messages) {
        const eta = etas.get(message.rid);
        if (eta !== undefined) message.eta = eta;
      }
    }
    return { wait: Number(reply[0]), held, messages };
  }

  /** Moves held delay-queue messages of `queue` to ready (`entries`: flat rid, priority); see delay-queue.lua. */
  async promote(base: string, acks: string, queue: string, entries: Arg[]): Promise<number> {
    return (await this.#call("delay-queue", base, acks, "promote", queue, ...entries)) as number;
  }

  /** Gives held delay-queue ids back to `ns:q.DQ`: `rids`, or with `except`, every held one but those. */
  async returnDelayed(base: string, acks: string, mode: "return" | "except", rids: readonly string[]): Promise<number> {
    return (await this.#call("delay-queue", base, acks, mode, ...rids)) as number;
  }

  async ack(base: string, acks: string, rids: string[]): Promise<number> {
    return (await this.#call("ack", base, acks, ...rids)) as number;
  }

  async nack(base: string, acks: string, rid: string, reason: string, deadTtl: number): Promise<number> {
    return (await this.#call("nack", base, acks, rid, reason, deadTtl)) as number;
  }

  /** `entry` is the next attempt's group of rid, payload, priority, delay, dq, eta tail (as enqueue takes). */
  async retry(base: string, acks: string, oldRid: string, entry: Arg[]): Promise<number> {
    return (await this.#call("retry", base, acks, oldRid, ...entry)) as number;
  }

  /** Gives back `rids`, or with `except`, every held id but those. */
  async requeue(base: string, acks: string, mode: "ids" | "except", rids: string[]): Promise<number> {
    return (await this.#call("requeue", base, acks, mode, ...rids)) as number;
  }

  async release(base: string, acks: string, heartbeats: string, registry: string, consumerId: string): Promise<number> {
    return (await this.#call("release", base, acks, heartbeats, registry, consumerId)) as number;
  }

  /** `pairs` are flat consumer id, queue name. */
  async heartbeat(heartbeats: string, registry: string, pairs: string[]): Promise<void> {
    await this.#call("heartbeat", heartbeats, registry, ...pairs);
  }

  /** One bounded maintenance step (maintenance.lua documents the cursors). */
  async maintenance(keys: MaintenanceKeys, args: MaintenanceArgs): Promise<MaintenanceReply> {
    const c = args.cursors;
    const r = (await this.#call("maintenance", keys.heartbeats, keys.registry, keys.seen, keys.prefix, args.heartbeatTimeout, args.deadTtl, args.limit, c.registry, c.score, c.member, c.seen, ...args.queues)) as (number | string)[];
    return {
      reaped: Number(r[0]),
      requeued: Number(r[1]),
      trimmed: Number(r[2]),
      forgotten: Number(r[3]),
      cursors: { registry: String(r[4]), score: String(r[5]), member: String(r[6]), seen: String(r[7]) },
      foreignClockAhead: Number(r[8]),
    };
  }

  /** Gives back what the (dead) consumers `ids` hold; returns how many messages. */
  async recover(heartbeats: string, registry: string, prefix: string, ids: readonly string[]): Promise<number> {
    return (await this.#call("recover", heartbeats, registry, prefix, ...ids)) as number;
  }

  /** With `since` ≥ 0, also the first dead letter scored `since` or later that is not in `covered`. */
  /** Since when the oldest ready message is due (epoch ms), or undefined when none is ready; see oldest.lua. */
  async oldest(base: string): Promise<number | undefined> {
    const at = Number(await this.#call("oldest", base));
    return at >= 0 ? at : undefined;
  }

  async stats(base: string, since: number, covered: readonly string[] = []): Promise<StatsReply> {
    const r = (await this.#call("stats", base, since, ...covered)) as (number | string | null)[];
    return {
      ready: r[0] as number,
      delayed: r[1] as number,
      inFlight: r[2] as number,
      dead: r[3] as number,
      now: Number(r[4]),
      deadId: (r[5] as string | null) ?? null,
      deadReason: (r[6] as string | null) ?? null,
      deadBody: (r[7] as string | null) ?? null,
      deadAtNow: r.slice(8) as string[],
    };
  }

  async flush(base: string): Promise<void> {
    await this.#call("flush", base);
  }

  /** `entries` are flat groups of rid, payload, priority; returns how many were requeued. */
  async requeueDead(base: string, entries: Arg[]): Promise<number> {
    return (await this.#call("requeue-dead", base, ...entries)) as number;
  }

  /** One HSCAN step over `hash`: each payload's eta (null: none readable); see browse-scan.lua. */
  async scanEtas(hash: string, cursor: string, count: number): Promise<{ cursor: string; etas: [rid: string, eta: number | null][] }> {
    const r = (await this.#call("browse-scan", hash, cursor, count, "etas")) as (string | number | null)[];
    const etas: [string, number | null][] = [];
    for (let i = 1; i < r.length; i += 2) etas.push([r[i] as string, r[i + 1] === null ? null : Number(r[i + 1])]);
    return { cursor: String(r[0]), etas };
  }

  /** One HSCAN step over `hash`: the payloads containing one of `needles`; see browse-scan.lua. */
  async scanMatches(hash: string, cursor: string, count: number, needles: readonly string[]): Promise<{ cursor: string; found: [rid: string, body: string][] }> {
    const r = (await this.#call("browse-scan", hash, cursor, count, "match", ...needles)) as string[];
    const found: [string, string][] = [];
    for (let i = 1; i < r.length; i += 2) found.push([r[i]!, r[i + 1]!]);
    return { cursor: r[0]!, found };
  }

  async deadLetters(base: string, limit: number): Promise<RawDeadLetter[]> {
    const r = (await this.#call("dead-letters", base, limit)) as (string | null)[];
    const out: RawDeadLetter[] = [];
    for (let i = 0; i < r.length; i += 4) {
      out.push({ rid: r[i]!, body: r[i + 1]!, reason: r[i + 2] ?? null, deadAt: Number(r[i + 3]) });
    }
    return out;
  }
}
