// Redis time of one maintenance pass with stale Python heartbeats piled up (brokers/redis/README.md,
// "Mixed fleets"): `node --import tsx bench/redis-maintenance.ts` with MAINTENANCE_BENCH_URL set to a
// Redis server of your own (it sets `slowlog-log-slower-than 0` there and resets the slow log).
// BEFORE=<commit> also times that commit's maintenance.lua (e.g. BEFORE=08baf28, the last one
// before the bounded passes). Not part of `npm run bench`.
import { execFileSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { Redis } from "ioredis";
import { MAINTENANCE_LIMIT } from "../brokers/redis/maintenance.ts";

const url = process.env.MAINTENANCE_BENCH_URL;
if (!url) throw new Error("Set MAINTENANCE_BENCH_URL to a Redis server of your own: this bench reconfigures its slow log");
const PASSES = Number(process.env.PASSES ?? 30);
const QUEUES = Array.from({ length: 10 }, (_, i) => `q${i}`);
const source = (file: string, commit?: string) =>
  commit ? execFileSync("git", ["show", `${commit}:brokers/redis/${file}`], { encoding: "utf8" }) : readFileSync(new URL(`../brokers/redis/${file}`, import.meta.url), "utf8");
const script = (commit?: string) => `${source("common.lua", commit)}\n${source("maintenance.lua", commit)}`;

const redis = new Redis(url);
redis.on("error", () => undefined);

/** `stale` Python producers' heartbeats an hour old, and 10 live dramats consumers holding a message each. */
async function populate(ns: string, stale: number): Promise<void> {
  const now = Date.now();
  for (let i = 0; i < stale; i += 1000) {
    const entries: (string | number)[] = [];
    for (let j = i; j < Math.min(stale, i + 1000); j++) entries.push(now - 3_600_000 + j, `python-producer-${j}`);
    await redis.zadd(`${ns}:__heartbeats__`, ...entries);
  }
  for (let i = 0; i < 10; i++) {
    await redis.zadd(`${ns}:__heartbeats__`, now, `node-${i}`);
    await redis.hset(`${ns}:__dramats_consumers__`, `node-${i}`, QUEUES[i]!);
    await redis.sadd(`${ns}:__acks__.node-${i}.${QUEUES[i]}`, `rid-${i}`);
  }
}

async function clear(ns: string): Promise<void> {
  let cursor = "0";
  do {
    const [next, keys] = await redis.scan(cursor, "MATCH", `${ns}:*`, "COUNT", 1000);
    cursor = next;
    if (keys.length > 0) await redis.unlink(...keys);
  } while (cursor !== "0");
}

/** Median and fastest tenth of each pass's time in Redis, in ms, from the slow log. */
async function time(pass: () => Promise<unknown>): Promise<string> {
  await redis.config("SET", "slowlog-log-slower-than", "0");
  const micros: number[] = [];
  for (let i = 0; i < PASSES; i++) {
    await redis.slowlog("RESET");
    await pass();
    const log = (await redis.slowlog("GET", 10)) as [number, number, number, string[]][];
    micros.push(log.find((entry) => entry[3][0]!.toUpperCase() === "EVAL")![2]);
  }
  micros.sort((a, b) => a - b);
  const ms = (us: number) => (us / 1000).toFixed(2);
  return `median ${ms(micros[micros.length >> 1]!)} ms (fastest tenth ${ms(micros[Math.floor(micros.length / 10)]!)}, slowest ${ms(micros[micros.length - 1]!)})`;
}

const before = process.env.BEFORE;
for (const stale of [1_100, 2_000, 10_000]) {
  const ns = `bench-maint-${randomUUID().slice(0, 8)}`;
  const keys = [`${ns}:__heartbeats__`, `${ns}:__dramats_consumers__`];
  let line = `${stale} stale Python heartbeats, ${QUEUES.length} queues:`;
  if (before) {
    await populate(ns, stale);
    const old = script(before);
    line += ` ${before}: ${await time(() => redis.eval(old, 2, ...keys, `${ns}:`, 60_000, 604_800_000, ...QUEUES))};`;
    await clear(ns);
  }
  await populate(ns, stale);
  const current = script();
  let cursors = ["0", "", "", "0"];
  line += ` now: ${await time(async () => {
    const reply = (await redis.eval(current, 3, ...keys, `${ns}:__dramats_seen__`, `${ns}:`, 60_000, 604_800_000, MAINTENANCE_LIMIT, ...cursors, ...QUEUES)) as unknown[];
    cursors = reply.slice(4, 8).map(String);
  })}`;
  await clear(ns);
  console.log(line);
}
await redis.config("SET", "slowlog-log-slower-than", "10000");
redis.disconnect();
