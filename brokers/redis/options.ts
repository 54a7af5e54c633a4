import type { RedisOptions } from "ioredis";
import type { BrokerOptions } from "../../lib/broker.ts";
import { addSecret, addUrlSecret, redactUrl } from "../../lib/redact.ts";
import { urlDuration } from "../../lib/url-duration.ts";

/** Options of {@link RedisBroker}. Times are in milliseconds. */
export interface RedisBrokerOptions extends BrokerOptions {
  /**
   * Where Redis is: `redis://[user:password@]host[:port][/db]`, or `rediss://...` for TLS.
   * `?heartbeat_timeout=MS` sets `heartbeatTimeout` unless the option does (at least 1000);
   * `?delays=zset` and `?priorities=levels` set `delays` and `priorities` likewise.
   * @defaultValue `redis://127.0.0.1:6379`
   */
  url?: string;
  /** ioredis options; they win over what the URL says (e.g. `tls` certificates, `password`). */
  client?: RedisOptions;
  /** Prefix of every key, shared with Python Dramatiq's RedisBroker. @defaultValue "dramatiq" */
  namespace?: string;
  /** How often each consumer's heartbeat is written, whatever the traffic. @defaultValue 5000, or a third of a shorter `heartbeatTimeout` */
  heartbeatInterval?: number;
  /**
   * A consumer silent this long is dead; live brokers requeue its messages. The bound on how long
   * a dead process's messages wait when no supervisor gives them back, and on how long an event
   * loop may block before its messages run twice. At least twice `heartbeatInterval`.
   * @defaultValue 60000, or the URL's `heartbeat_timeout`
   */
  heartbeatTimeout?: number;
  /** How often this broker looks for dead consumers (while it has consumers). @defaultValue heartbeatInterval */
  maintenanceInterval?: number;
  /** How long dead letters are kept. @defaultValue 604800000 (7 days) */
  deadMessageTtl?: number;
  /**
   * Where delayed messages (sends with a delay, retries) are written. `"dramatiq"`: Dramatiq's
   * delay queue `ns:q.DQ` with `options.eta`, where Python workers look; dramats consumers hold
   * them until their eta as Dramatiq's do. `"zset"`: the sorted set `ns:q:delayed`, read only by
   * dramats consumers (the fast path, for queues no Python worker reads). Or the URL's `?delays=`.
   * @defaultValue "dramatiq"
   */
  delays?: RedisDelays;
  /**
   * What a message's priority does at the broker. `"dramatiq"`: nothing, every message goes to
   * Dramatiq's list `ns:q` (priority only orders a worker's prefetched messages, as in Dramatiq).
   * `"levels"`: one list per priority, lowest number fetched first, read only by dramats consumers.
   * Or the URL's `?priorities=`.
   * @defaultValue "dramatiq"
   */
  priorities?: RedisPriorities;
}

/** Where delayed messages go: Dramatiq's delay queue, or dramats' sorted set. */
export type RedisDelays = "dramatiq" | "zset";
/** What priority does at the broker: nothing (Dramatiq's one list), or priority levels. */
export type RedisPriorities = "dramatiq" | "levels";

const DELAYS: readonly RedisDelays[] = ["dramatiq", "zset"];
const PRIORITIES: readonly RedisPriorities[] = ["dramatiq", "levels"];

/** The defaults, in one place. */
export const REDIS_DEFAULTS = Object.freeze({
  /** Where Redis is. */
  url: "redis://127.0.0.1:6379",
  /** Prefix of every key (Dramatiq's). */
  namespace: "dramatiq",
  /** How often each consumer's heartbeat is written, in ms. */
  heartbeatInterval: 5_000,
  /** How long a silent consumer counts as alive, in ms. */
  heartbeatTimeout: 60_000,
  /** How long dead letters are kept, in ms (7 days). */
  deadMessageTtl: 604_800_000,
  /** Delayed messages go to Dramatiq's delay queue `ns:q.DQ` (Python workers read it). */
  delays: "dramatiq" as RedisDelays,
  /** Priorities stay out of the broker: one list `ns:q`, as Dramatiq has. */
  priorities: "dramatiq" as RedisPriorities,
  /** Attempts (reconnections) a command waits through before it rejects. */
  maxRetriesPerRequest: 5,
  /** A command with no reply after this long rejects (a half-open socket must not hang callers). */
  commandTimeout: 30_000,
  /** Longest wait between two reconnection attempts. */
  maxReconnectDelay: 2_000,
});

export interface ResolvedRedisOptions {
  readonly connection: RedisOptions;
  readonly namespace: string;
  readonly heartbeatInterval: number;
  readonly heartbeatTimeout: number;
  readonly maintenanceInterval: number;
  readonly deadMessageTtl: number;
  readonly delays: RedisDelays;
  readonly priorities: RedisPriorities;
}

/**
 * Validates the options and fills in defaults.
 * @throws TypeError for a malformed URL or namespace; RangeError for bad durations.
 */
export function resolveRedisOptions(options: RedisBrokerOptions): ResolvedRedisOptions {
  const namespace = options.namespace ?? REDIS_DEFAULTS.namespace;
  if (typeof namespace !== "string" || namespace === "" || /\s/.test(namespace)) {
    throw new TypeError(`options.namespace must be a non-empty string without spaces, got ${JSON.stringify(namespace)}`);
  }
  const url = options.url ?? REDIS_DEFAULTS.url;
  const heartbeatTimeout = duration("heartbeatTimeout", options.heartbeatTimeout ?? urlHeartbeatTimeout(url) ?? REDIS_DEFAULTS.heartbeatTimeout);
  const heartbeatInterval = duration("heartbeatInterval", options.heartbeatInterval ?? Math.min(REDIS_DEFAULTS.heartbeatInterval, Math.round(heartbeatTimeout / 3)));
  // One late heartbeat must not make a live consumer look dead (its messages would run twice).
  if (heartbeatTimeout < 2 * heartbeatInterval) {
    throw new RangeError(
      `options.heartbeatTimeout (${heartbeatTimeout}) must be at least twice options.heartbeatInterval (${heartbeatInterval})`,
    );
  }
  // The password this process will use is masked wherever it shows up in output (lib/redact.ts).
  addUrlSecret(options.url ?? REDIS_DEFAULTS.url);
  if (typeof options.client?.password === "string") addSecret(options.client.password);
  return {
    connection: { ...parseRedisUrl(url), ...options.client },
    namespace,
    heartbeatInterval,
    heartbeatTimeout,
    maintenanceInterval: duration("maintenanceInterval", options.maintenanceInterval ?? heartbeatInterval),
    deadMessageTtl: duration("deadMessageTtl", options.deadMessageTtl ?? REDIS_DEFAULTS.deadMessageTtl, true),
    delays: choice("delays", options.delays ?? urlParam(url, "delays") ?? REDIS_DEFAULTS.delays, DELAYS),
    priorities: choice("priorities", options.priorities ?? urlParam(url, "priorities") ?? REDIS_DEFAULTS.priorities, PRIORITIES),
  };
}

function urlParam(url: string, name: string): string | undefined {
  try {
    return new URL(url).searchParams.get(name) ?? undefined;
  } catch {
    return undefined; // parseRedisUrl says what is wrong with it
  }
}

function choice<T extends string>(name: string, value: string, allowed: readonly T[]): T {
  if (!(allowed as readonly string[]).includes(value)) {
    throw new TypeError(`options.${name} (or the URL's ?${name}=) must be ${allowed.map((a) => JSON.stringify(a)).join(" or ")}, got ${JSON.stringify(value)}`);
  }
  return value as T;
}

function urlHeartbeatTimeout(url: string): number | undefined {
  let params: URLSearchParams;
  try {
    params = new URL(url).searchParams;
  } catch {
    return undefined; // parseRedisUrl says what is wrong with it
  }
  return urlDuration(params, "heartbeat_timeout");
}

function duration(name: string, value: number, zeroOk = false): number {
  if (typeof value !== "number" || !Number.isFinite(value) || value < 0 || (!zeroOk && value === 0)) {
    throw new RangeError(`options.${name} must be a ${zeroOk ? "non-negative" : "positive"} number of ms, got ${value}`);
  }
  return value;
}

/**
 * Turns a `redis://` or `rediss://` URL into ioredis connection options.
 * @throws TypeError for another scheme, a bad port or a bad database number.
 */
export function parseRedisUrl(url: string): RedisOptions {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new TypeError(`options.url must be a redis:// or rediss:// URL, got ${JSON.stringify(redactUrl(url))}`);
  }
  if (parsed.protocol !== "redis:" && parsed.protocol !== "rediss:") {
    throw new TypeError(`options.url must use redis:// or rediss://, got ${JSON.stringify(parsed.protocol)}`);
  }
  const out: RedisOptions = { host: parsed.hostname.replace(/^\[|\]$/g, "") || "127.0.0.1", port: 6379 };
  if (parsed.port !== "") out.port = Number(parsed.port);
  if (parsed.username !== "") out.username = decodeURIComponent(parsed.username);
  if (parsed.password !== "") out.password = decodeURIComponent(parsed.password);
  const path = parsed.pathname.replace(/^\//, "");
  if (path !== "") {
    const db = Number(path);
    if (!Number.isInteger(db) || db < 0) throw new TypeError(`options.url names database ${JSON.stringify(path)}, not a number`);
    out.db = db;
  }
  if (parsed.protocol === "rediss:") out.tls = {};
  return out;
}
