// Real fleets for the dashboard's end-to-end browser specs (spec/dashboard/e2e-*.spec.ts): one
// Redis namespace or one SQLite file, seen by two brokers as in production: the dashboard's
// (which never consumes) and the workers' (a library Worker in the spec process, publishing its
// record to the registry and its minutes to the history). Pages are watched for console errors,
// page errors and CSP violations.
import { randomUUID } from "node:crypto";
import type { Page } from "playwright-core";
import { RedisBroker, RedisCancellationBackend } from "../../brokers/redis/index.ts";
import { SqliteBroker } from "../../brokers/sqlite/index.ts";
import type { Broker } from "../../lib/broker.ts";
import { RegistryPublisher } from "../../lib/cli/registry-publisher.ts";
import { historyStoreOf } from "../../lib/history-store.ts";
import { Worker, type WorkerOptions } from "../../lib/worker.ts";
import { workerRegistryOf } from "../../lib/worker-registry.ts";
import { Cancellation } from "../../middleware/cancellation.ts";
import { FleetHistory } from "../../middleware/history.ts";
import type { Middleware } from "../../middleware/middleware.ts";
import { Retries } from "../../middleware/retries.ts";
import { Scheduler } from "../../middleware/scheduler.ts";
import { tempDatabase } from "../fixtures/sqlite-files.ts";
import { serveDashboard } from "./dashboard-client.ts";
import { deleteNamespace, redisUrl, uniqueNamespace } from "./redis.ts";

/** The operator token of every e2e dashboard. */
export const TOKEN = "e2e-operator-token";

export type FleetKind = "Redis" | "SQLite";

/** A fleet: its dashboard broker, its workers' broker, and the dashboard served on a loopback port. */
export interface E2eFleet {
  kind: FleetKind;
  /** A queue name no other run uses. */
  queue: string;
  /** The dashboard's broker (actors declared, Retries, Scheduler off, Cancellation on Redis). */
  dash: Broker;
  /** A producer's broker: the spec enqueues through it. */
  work: Broker;
  /** The dashboard's origin; its pages are at `${origin}/`. */
  origin: string;
  /** Starts a library Worker on a broker of its own (registry record, history), consuming `queue` unless told; stopped by `close`. */
  startWorker(options?: E2eWorkerOptions): Promise<Worker>;
  /** Stops a worker started here and closes its broker (its history minute and "stopped" record are written). */
  stopWorker(worker: Worker): Promise<void>;
  /** Stops the worker(s), the dashboard, both brokers, and removes the namespace or the file. */
  close(): Promise<void>;
}

/** A worker's options, and `historyShift` (ms) added to its history clock: -60000 files its runs under the previous minute, which the dashboard shows at once (it shows finished minutes only). */
export type E2eWorkerOptions = WorkerOptions & { historyShift?: number };

/** Declares the spec's actors on a broker (called for both brokers). */
export type Declare = (broker: Broker, queue: string) => void;

/** Opens a fleet of `kind`, `declare`s its actors on both brokers and serves the dashboard (read-only when `token` is null; `queue`: the main queue's name, random unless given). */
export async function openFleet(kind: FleetKind, declare: Declare, options: { token?: string | null; registryInterval?: number; queue?: string } = {}): Promise<E2eFleet> {
  // A fixed name is safe too: each fleet has a namespace or a file of its own.
  const queue = options.queue ?? `e2e_${randomUUID().slice(0, 8)}`;
  const token = options.token === undefined ? TOKEN : options.token;
  const interval = options.registryInterval ?? 500;
  let dash: Broker;
  let work: Broker;
  let workerBroker: () => Broker;
  let cleanup: () => Promise<void>;
  const base = (): Middleware[] => [new Retries({ minBackoff: 10, maxBackoff: 20 }), new Scheduler({ enabled: false })];
  if (kind === "Redis") {
    const url = await redisUrl();
    const namespace = uniqueNamespace("dramats-e2e");
    const cancellation = () => new Cancellation({ backend: new RedisCancellationBackend({ url, prefix: `${namespace}:cancel` }) });
    dash = new RedisBroker({ url, namespace, middleware: [...base(), cancellation()] });
    work = new RedisBroker({ url, namespace, middleware: base() });
    workerBroker = () => new RedisBroker({ url, namespace, middleware: [...base(), cancellation()] });
    cleanup = async () => void (await deleteNamespace(namespace));
  } else {
    const db = tempDatabase("e2e.sqlite");
    dash = new SqliteBroker({ path: db.path, middleware: base() });
    work = new SqliteBroker({ path: db.path, middleware: base() });
    workerBroker = () => new SqliteBroker({ path: db.path, middleware: base() });
    cleanup = async () => db.cleanup();
  }
  let served: Awaited<ReturnType<typeof serveDashboard>>;
  try {
    declare(dash, queue);
    declare(work, queue);
    served = await serveDashboard({ broker: dash, ...(token === null ? {} : { token }) });
  } catch (error) {
    await Promise.allSettled([dash.close(), work.close()]);
    await cleanup();
    throw error;
  }
  const workers: { worker: Worker; broker: Broker }[] = [];
  return {
    kind,
    queue,
    dash,
    work,
    origin: served.origin,
    async startWorker({ historyShift = 0, ...workerOptions } = {}) {
      // Its own broker, as a worker process has: its record in the registry, its minutes in the history.
      const broker = workerBroker();
      broker.addMiddleware(new RegistryPublisher({ registry: async () => workerRegistryOf(broker), interval, dramatsVersion: "e2e", supervisorPid: null }));
      broker.addMiddleware(new FleetHistory({ store: async () => historyStoreOf(broker), ...(historyShift === 0 ? {} : { clock: () => Date.now() + historyShift }) }));
      declare(broker, queue);
      const worker = new Worker(broker, { queues: [queue], fetchTimeout: 100, ...workerOptions });
      workers.push({ worker, broker });
      await worker.start();
      return worker;
    },
    async stopWorker(worker) {
      const at = workers.findIndex((w) => w.worker === worker);
      if (at < 0) return;
      const [{ broker }] = workers.splice(at, 1);
      await worker.stop({ timeout: 5_000 });
      await broker.close();
    },
    async close() {
      for (const { worker, broker } of workers.splice(0)) {
        await worker.stop({ timeout: 5_000 }).catch(() => undefined);
        await broker.close();
      }
      await served.close();
      await work.close();
      await dash.close();
      await cleanup();
    },
  };
}

/**
 * Collects what a page reports as wrong: uncaught errors, console errors (a CSP violation is
 * one: "Refused to ..."), and CSP violation events. `allow` lists console texts a spec expects.
 */
export function watchPage(page: Page, allow: RegExp[] = []): { problems: string[] } {
  const problems: string[] = [];
  page.on("pageerror", (error) => problems.push(`pageerror: ${error.message}`));
  page.on("console", (message) => {
    const text = message.text();
    if ((message.type() === "error" || /Content Security Policy|Refused to/i.test(text)) && !allow.some((re) => re.test(text))) problems.push(`console ${message.type()}: ${text}`);
  });
  return { problems };
}

/** Polls `check` every 50 ms until it holds; rejects after `timeout` ms naming `what`. */
export async function until<T>(check: () => Promise<T | undefined | false> | T | undefined | false, what: string, timeout = 10_000): Promise<T> {
  const deadline = Date.now() + timeout;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`Timed out after ${timeout} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Logs the page in as operator through the header's form and waits for the operator badge. */
export async function loginThroughForm(page: Page, token = TOKEN): Promise<void> {
  await page.locator("[data-test=login-token]").fill(token);
  await page.locator("[data-test=login-submit]").click();
  await page.locator("[data-test=session-state]", { hasText: "operator" }).waitFor({ timeout: 5_000 });
}
