// A representative app for the idle-memory bench (bench/memory.ts): what the examples' actors
// use together, on Redis. Results, a chord (group callbacks), a concurrency limiter,
// cancellation, a cron actor, retries and time limits, on the default middleware (Prometheus
// included), each backend with its own connection as an app that passes URLs gets. The dramats
// CLI imports it in its worker processes (no --broker: the module sets its broker); the bench
// imports it too, as a web app would, to send work through `work()`.
import { isMainThread } from "node:worker_threads";
import { RedisBroker, RedisCancellationBackend, RedisRateLimiterBackend, RedisResultBackend } from "../../brokers/redis/index.ts";
import { actor, Cancellation, ConcurrentRateLimiter, defaultMiddleware, group, GroupCallbacks, Results, setBroker } from "../../lib/index.ts";
import { report } from "./report.ts";

const url = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
const namespace = process.env.REAL_APP_NAMESPACE ?? "dramats-real-app";
const limits = new RedisRateLimiterBackend({ url, prefix: `${namespace}-limits` });
export const broker = new RedisBroker({
  url,
  namespace,
  middleware: [
    ...defaultMiddleware(),
    new Results({ backend: new RedisResultBackend({ url, namespace: `${namespace}-results` }) }),
    new GroupCallbacks({ backend: limits }),
    new Cancellation({ backend: new RedisCancellationBackend({ url, prefix: `${namespace}-cancel` }) }),
  ],
});
setBroker(broker);

const mutex = new ConcurrentRateLimiter(limits, `${namespace}-reports`, { limit: 2 });

export const sendWelcome = actor(
  async function real_send_welcome(userId: string, locale: string = "en") {
    return `welcome ${userId} (${locale})`;
  },
  { queueName: "real-emails", maxRetries: 5, timeLimit: 60_000, storeResults: true },
);

export const resize = actor(function real_resize(width: number, height: number) {
  return width * height;
}, { queueName: "real-images" });

export const summarize = actor(function real_summarize() {}, { queueName: "real-images", storeResults: true });

export const reportActor = actor(async function real_report(name: string) {
  return mutex.acquire(async () => name.length, { wait: 10_000 });
}, { queueName: "real-reports", storeResults: true });

export const nightly = actor(function real_nightly() {}, { queueName: "real-reports", schedule: { cron: "0 3 * * *", timezone: "UTC" } });

/** The bench's workload, sent from its own process: results, a chord of 50, limited reports. */
export async function work(rounds: number): Promise<void> {
  for (let round = 0; round < rounds; round++) {
    const welcomes = await Promise.all(Array.from({ length: 100 }, (_, i) => sendWelcome.send(`user-${round}-${i}`)));
    const callback = summarize.message();
    await group(Array.from({ length: 50 }, (_, i) => resize.message(i, i + 1))).addCompletionCallback(callback).run();
    const reports = await Promise.all(Array.from({ length: 20 }, (_, i) => reportActor.send(`report-${i}`)));
    for (const message of [...welcomes, ...reports, callback]) await message.result({ block: true, timeout: 30_000 });
  }
}

// In the CLI's worker processes only (not pool threads, not the bench importing it).
if (isMainThread && process.env.DRAMATS_WORKER_INDEX !== undefined) report(`pid ${process.pid}`);
