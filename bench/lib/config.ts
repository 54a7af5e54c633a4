// Settings every bench script shares: where the servers are, how big and how long a run is.
import { parseArgs } from "node:util";

const { values } = parseArgs({
  options: {
    quick: { type: "boolean", default: false },
    rounds: { type: "string" },
    messages: { type: "string" },
    out: { type: "string" },
    only: { type: "string" },
  },
  strict: false,
});

export const QUICK = values.quick === true;
/**
 * BENCH_SMOKE=1: every script, subject and tool runs, on 1,000 messages in one round
 * and with short waits, so that a spec can run the README's bench lines as written in seconds
 * (spec/readme-bench.spec.ts); its figures mean nothing. Explicit flags still win.
 */
export const SMOKE = process.env.BENCH_SMOKE === "1";
export const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
export const AMQP_URL = process.env.AMQP_URL ?? "amqp://guest:guest@127.0.0.1:5672";
/** The PostgreSQL server of `bench/postgres.ts` (each side in a private schema, dropped after). */
export const DATABASE_URL = process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";
/** Messages per throughput round (the issue's workload: 20,000; a multiple of the workers' REPORT_EVERY, 1,000). */
export const MESSAGES = Number(values.messages ?? (SMOKE ? 1_000 : QUICK ? 10_000 : 20_000));
/** Measured rounds per figure; each figure is their median. */
export const ROUNDS = Number(values.rounds ?? (SMOKE ? 1 : QUICK ? 3 : 6));
/** Where a script writes its JSON fragment (bench/index.ts merges them). */
export const OUT = typeof values.out === "string" ? values.out : undefined;
/** Comma-separated subject names to run (substring match); all when unset. */
export const ONLY = typeof values.only === "string" ? values.only.split(",") : undefined;
/** Unique per run, so names never collide with specs or other runs on the same servers. */
export const RUN_ID = `${process.pid.toString(36)}${Date.now().toString(36).slice(-4)}`;

/** A redis:// URL with the dramats namespace given as the CLI expects it. */
export function redisUrlWithNamespace(namespace: string): string {
  const url = new URL(REDIS_URL);
  url.searchParams.set("namespace", namespace);
  return url.href;
}

export function selected(name: string): boolean {
  return ONLY === undefined || ONLY.some((part) => name.includes(part));
}
