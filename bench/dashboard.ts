// The dashboard with a deep queue: the issue's "a page with 100,000 messages in a queue opens in
// under 1 s (paging is done in the broker, never by loading the queue)". On Redis (default layout)
// and on SQLite (a file in the temp directory), 100,000 ready messages are enqueued, then each API
// read a page makes goes through the real HTTP handler (node:http on a loopback port, fetch):
// the overview, the first page of the queue, a page at offset 50,000, and one message's detail.
// Each figure is the median of REQUESTS requests after one unmeasured warm-up (whose time is
// reported as `first_ms`). The built pages themselves are static files served from memory.
// Run: node --import tsx bench/dashboard.ts [--messages N] [--out file.json]
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { RedisBroker } from "../brokers/redis/index.ts";
import { SqliteBroker } from "../brokers/sqlite/index.ts";
import type { Broker } from "../lib/broker.ts";
import { dashboard } from "../lib/dashboard/index.ts";
import { actor } from "../lib/index.ts";
import { deleteRedisKeys } from "./lib/cleanup.ts";
import { OUT, REDIS_URL, RUN_ID, SMOKE } from "./lib/config.ts";
import { Samples } from "./lib/stats.ts";
import { fixed, printTable, range } from "./lib/table.ts";

const { values } = parseArgs({ options: { messages: { type: "string" } }, strict: false });
/** Ready messages in the queue (the figure: 100,000). */
const MESSAGES = Number(values.messages ?? (SMOKE ? 1_000 : 100_000));
/** Measured requests per read; each figure is their median. */
const REQUESTS = SMOKE ? 3 : 7;
/** Messages per sendMany while filling the queue. */
const BATCH = 5_000;
/** The target for a page (ms). */
export const TARGET_MS = 1_000;
const QUEUE = "bench-dash";

/** Fills the queue, serves the dashboard, times each read; closes what it opened. */
async function measure(name: string, broker: Broker): Promise<Record<string, ReturnType<Samples["get"]>>> {
  const job = actor(function benchDashJob(_n: number, _email: string) {}, { broker, queueName: QUEUE });
  const filling = Date.now();
  for (let sent = 0; sent < MESSAGES; sent += BATCH) {
    const count = Math.min(BATCH, MESSAGES - sent);
    await job.sendMany(Array.from({ length: count }, (_, i) => [sent + i, `user${sent + i}@example.org`] as [number, string]));
  }
  console.log(`  ${name}: ${MESSAGES.toLocaleString("en-US")} messages enqueued in ${((Date.now() - filling) / 1000).toFixed(1)} s`);

  const handler = dashboard({ broker, redact: (m) => ({ ...m, args: [m.args[0], "<hidden>"] }) });
  const server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const samples = new Samples();
  const get = async (path: string): Promise<{ ms: number; body: any }> => {
    const started = performance.now();
    const response = await fetch(`${origin}/api/${path}`);
    const body = await response.json();
    const ms = performance.now() - started;
    if (response.status !== 200) throw new Error(`GET api/${path}: ${response.status} ${JSON.stringify(body)}`);
    return { ms, body };
  };
  try {
    const middle = Math.floor(MESSAGES / 2);
    const mid = await get(`queues/${QUEUE}/messages?offset=${middle}&limit=1`);
    const id = (mid.body as { messages: { id: string }[] }).messages[0]!.id;
    const reads: [metric: string, path: string, check: (body: any) => boolean][] = [
      ["overview_ms", "overview", (b) => b.queues.some((q: { name: string; ready: number }) => q.name === QUEUE && q.ready === MESSAGES)],
      ["page_first_ms", `queues/${QUEUE}/messages?offset=0&limit=50`, (b) => b.total === MESSAGES && b.messages.length === 50],
      ["page_middle_ms", `queues/${QUEUE}/messages?offset=${middle}&limit=50`, (b) => b.messages.length === 50 && b.messages[0].args[0] === middle],
      ["detail_ms", `queues/${QUEUE}/messages/${id}`, (b) => b.id === id],
    ];
    for (const [metric, path, check] of reads) {
      const first = await get(path);
      if (!check(first.body)) throw new Error(`GET api/${path} answered something else: ${JSON.stringify(first.body).slice(0, 300)}`);
      samples.add(metric.replace(/_ms$/, "_first_ms"), first.ms);
      for (let i = 0; i < REQUESTS; i++) samples.add(metric, (await get(path)).ms);
    }
  } finally {
    await new Promise((resolve) => server.close(resolve));
    server.closeAllConnections();
    await handler.close();
  }
  return samples.toJSON();
}

const results: Record<string, Record<string, unknown>> = {};
console.log(`dashboard reads with ${MESSAGES.toLocaleString("en-US")} ready messages, median of ${REQUESTS} requests each`);

const namespace = `bench-dash-${RUN_ID}`;
const redis = new RedisBroker({ url: REDIS_URL, namespace, middleware: [] });
try {
  results["redis"] = await measure("redis", redis);
} finally {
  await redis.close();
  await deleteRedisKeys(`${namespace}*`);
}

const dir = mkdtempSync(join(tmpdir(), "dramats-bench-dash-"));
const sqlite = new SqliteBroker({ path: join(dir, "bench.sqlite"), middleware: [] });
try {
  results["sqlite"] = await measure("sqlite", sqlite);
} finally {
  await sqlite.close();
  rmSync(dir, { recursive: true, force: true });
}

const ms = (x: number) => fixed(x, 1);
const READS = [
  ["overview", "GET api/overview"],
  ["page_first", "GET api/queues/Q/messages?offset=0&limit=50"],
  ["page_middle", `GET ...?offset=${Math.floor(MESSAGES / 2)}&limit=50`],
  ["detail", "GET api/queues/Q/messages/ID"],
] as const;
console.log("");
printTable(
  ["read", "redis ms", "redis first", "sqlite ms", "sqlite first"],
  READS.map(([key, label]) => {
    const r = results.redis as Record<string, Parameters<typeof range>[0]>;
    const s = results.sqlite as Record<string, Parameters<typeof range>[0]>;
    return [label, range(r[`${key}_ms`], ms), range(r[`${key}_first_ms`], ms), range(s[`${key}_ms`], ms), range(s[`${key}_first_ms`], ms)];
  }),
);
console.log(`medians (min-max) of ${REQUESTS} requests after one warm-up ("first"); target: each under ${TARGET_MS} ms`);

if (OUT) writeFileSync(OUT, JSON.stringify({ messages: MESSAGES, requests: REQUESTS, targetMs: TARGET_MS, brokers: results }, null, 2));
