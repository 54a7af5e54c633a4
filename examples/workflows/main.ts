// Results, pipelines, groups with a completion callback (a chord), rate limits and
// cancellation, on the in-memory broker. Swap the stub backends for the Redis ones
// (RedisResultBackend, RedisRateLimiterBackend, RedisCancellationBackend from
// "dramats/brokers/redis") to share them across processes.
import {
  actor,
  Cancellation,
  ConcurrentRateLimiter,
  defaultMiddleware,
  group,
  GroupCallbacks,
  pipeline,
  Results,
  StubCancellationBackend,
  StubRateLimiterBackend,
  StubResultBackend,
  Worker,
} from "../../lib/index.ts";
import { StubBroker } from "../../brokers/stub.ts";

const limits = new StubRateLimiterBackend();
const broker = new StubBroker({
  middleware: [
    ...defaultMiddleware(),
    new Results({ backend: new StubResultBackend() }),
    new GroupCallbacks({ backend: limits }),
    new Cancellation({ backend: new StubCancellationBackend() }),
  ],
});
const lines: string[] = [];

const add = actor(function add(a: number, b: number) { return a + b; }, { broker, storeResults: true });
const double = actor(function double(n: number) { return n * 2; }, { broker, storeResults: true });
const report = actor(function report(tag: string) { lines.push(`chord fired: ${tag}`); }, { broker });

// At most two calls at once across every process sharing the backend.
const apiSlots = new ConcurrentRateLimiter(limits, "third-party-api", { limit: 2 });
const callApi = actor(async function callApi(n: number) {
  return apiSlots.acquire(async () => n, { wait: 5_000 });
}, { broker, storeResults: true });

/** Runs every workflow and returns what happened, one line each. */
export async function main(): Promise<string[]> {
  const worker = new Worker(broker, { concurrency: 8 });
  await worker.start();

  const sum = await add.send(2, 3);
  lines.push(`result: ${await sum.result({ timeout: 5_000 })}`);

  const chain = await pipeline([add.message(1, 2), double.step(), double.step()]).run();
  lines.push(`pipeline: ${await chain.result({ timeout: 5_000 })}`);

  const squares = await group([double.message(1), double.message(2), double.message(3)]).run();
  lines.push(`group: ${JSON.stringify(await squares.results({ timeout: 5_000 }))}`);

  await group([add.message(1, 1), add.message(2, 2)]).addCompletionCallback(report.message("both added")).run();

  const limited = await group([1, 2, 3, 4].map((n) => callApi.message(n))).run();
  lines.push(`rate limited: ${JSON.stringify(await limited.results({ timeout: 5_000 }))}`);

  worker.pause();
  const doomed = await add.send(40, 2);
  await doomed.cancel();
  worker.resume();
  const outcome = await doomed.result({ timeout: 5_000 }).then(String, (e: Error) => e.message);
  lines.push(`cancelled: ${outcome}`);

  await worker.join();
  await worker.stop();
  await broker.close();
  return lines;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  for (const line of await main()) console.log(line);
}
