import cluster from "node:cluster";
import { peekBroker, type Broker } from "../broker.ts";
import { isArgumentsMismatch } from "../errors.ts";
import { configureLogging, getLogger, type Logger } from "../logging.ts";
import type { ThreadPool } from "../threads/pool.ts";
import { Worker } from "../worker.ts";
import { Prometheus } from "../../middleware/prometheus.ts";
import { Scheduler } from "../../middleware/scheduler.ts";
import { useSchedulerStore } from "./scheduler-store.ts";
import { brokerOrigin, DEFAULT_BROKER_URL } from "../connect.ts";
import { addUrlSecret, redact } from "../redact.ts";
import { Threads } from "../../middleware/threads.ts";
import type { CliOptions } from "./args.ts";
import { brokerFromUrl, declareOn, redactUrl } from "./broker-url.ts";
import { CliError, ExitCode } from "./exit-codes.ts";
import { collectGarbage } from "./collect-garbage.ts";
import { IdleCollector } from "./idle-gc.ts";
import { BlockWatch } from "./block-watch.ts";
import { isSupervisorCommand, report, reportAndWait, WORKER_ENV, type BootSummary } from "./ipc.ts";
import { importModules, resolveModule } from "./modules.ts";
import { Recycler } from "./recycler.ts";
import { publisherFor } from "./registry-publisher.ts";
import { historyFor } from "./history.ts";
import { ConsumerHealth } from "./consumer-health.ts";
import { MAX_CONTROL_PERIOD, WorkerControlWatch } from "./worker-control-watch.ts";
import { StoreUrl } from "../../middleware/store-url.ts";
import type { KeyValueStore } from "../key-value-store.ts";
import { StopSignals } from "./stop-signals.ts";

/** How long the boot-time broker check may take before it counts as a connection failure (ms). */
const BROKER_CHECK_TIMEOUT = 10_000;
/** Extra time after the grace period for closing the pool and the broker before exiting anyway (ms). */
const CLOSE_MARGIN = 10_000;

/**
 * One worker process under the supervisor: imports the modules, picks the broker, starts a
 * Worker (and a thread pool when some actor is threaded), heartbeats over IPC, and stops
 * gracefully on SIGTERM, on recycling, or when the supervisor goes away.
 */
export async function runWorkerProcess(options: CliOptions, index: number): Promise<never> {
  const name = `WorkerProcess(${index})`;
  configureLogging({ level: options.verbose ? "debug" : (process.env.DRAMATS_LOG_LEVEL ?? "info"), base: { pid: process.pid, process: name } });
  const log = getLogger("cli");
  if (options.broker !== undefined) addUrlSecret(options.broker);
  let running: Booted | undefined;
  const heartbeat = setInterval(() => {
    report({ type: "heartbeat" });
    running?.health.check();
  }, options.heartbeatInterval);
  heartbeat.unref();

  let stopping = false;
  const stop = (why: string) => {
    if (stopping) return;
    stopping = true;
    // A stop during boot: nothing runs yet, so leave at once.
    if (running === undefined) process.exit(ExitCode.OK);
    void shutdown(running, why, options.grace, log);
  };
  const force = (why: string) => {
    log.warn({ reason: why }, "Forced stop: exiting without waiting for running actors");
    process.exit(ExitCode.ERROR);
  };
  // Only this process's own SIGTERMs count: after the supervisor's stop, the SIGTERM a process
  // manager sends the rest of the group (or `pkill`) a moment later is the same stop.
  new StopSignals({ stop: () => stop("SIGTERM"), force: () => force("second SIGTERM") }).listen("SIGTERM");
  // Ctrl-C and a terminal hang-up reach the whole process group: the supervisor decides what
  // they mean (a stop, a reload) and tells us over IPC.
  process.on("SIGINT", () => {});
  process.on("SIGHUP", () => {});
  const blockWatch = new BlockWatch(
    process.env[WORKER_ENV.runningFile],
    parseBlocked(process.env[WORKER_ENV.blocked]),
    Math.min(50, options.heartbeatInterval),
  );
  if (process.env[WORKER_ENV.watch] === "1") blockWatch.watch();
  process.on("message", (message: unknown) => {
    if (!isSupervisorCommand(message)) return;
    if (message.type === "force") force("supervisor forced the stop");
    else if (message.type === "blocked") blockWatch.block(message.ids);
    else if (message.type === "watch") blockWatch.watch();
    else if (message.type === "metrics") void sendMetrics(running, message.id);
    else stop("supervisor asked to stop");
  });
  // node:cluster ends a worker whose primary vanished at once (its own 'disconnect' listener
  // calls process.exit unless the worker disconnected on purpose), which would abandon running
  // actors and leave every held message to the broker's heartbeat or lease timeout. Marking the
  // disconnect as expected (the cluster Worker's documented flag) lets ours stop gracefully.
  if (cluster.worker !== undefined) cluster.worker.exitedAfterDisconnect = true;
  process.on("disconnect", () => stop("supervisor went away"));
  // A promise some actor forgot to await must not take every running actor down with it. An
  // uncaught exception still ends the process (its state is unknown); the supervisor restarts it.
  process.on("unhandledRejection", (reason) => log.error({ err: reason }, "Unhandled promise rejection in a worker process"));

  const retire = (reason: string) => {
    if (stopping) return;
    log.info({ reason }, "Recycling this worker process");
    report({ type: "retiring", reason });
    stop("recycle");
  };
  const control = {
    restart: (reason: string) => {
      if (stopping) return;
      report({ type: "retiring", reason });
      stop(reason);
    },
    leave: (reason: string) => {
      if (stopping) return;
      report({ type: "leaving", reason });
      stop(reason);
    },
  };

  try {
    running = await boot(options, log, retire, blockWatch, control);
    report({ type: "starting" });
    await running.worker.start();
    // Booted: most of what the imports allocated is garbage now. Give it back before any work,
    // and again whenever the worker goes idle after a busy spell.
    collectGarbage();
    new IdleCollector(running.worker).start();
    running.control?.start();
  } catch (error) {
    const failure =
      error instanceof CliError ? error : new CliError(`Worker process failed to boot: ${(error as Error)?.stack ?? String(error)}`, ExitCode.ERROR);
    if (failure.message) process.stderr.write(`dramats: ${redact(failure.message)}\n`);
    process.exit(failure.exitCode);
  }
  running.health.check();
  report({ type: "ready", summary: summarize(running) });

  // Everything from here on happens in handlers.
  return new Promise<never>(() => {});
}

/** What a booted worker process runs. */
interface Booted {
  broker: Broker;
  worker: Worker;
  pool: ThreadPool | undefined;
  recycler: Recycler | undefined;
  /** The URL the broker was built from, if known. */
  url: string | undefined;
  /** True when no flag, variable or module chose the broker: the embedded default. */
  isDefault: boolean;
  health: ConsumerHealth;
  /** Takes up the dashboard's stop and restart requests; undefined without a registry. */
  control: WorkerControlWatch | undefined;
  /** The `--store` store (pauses, registry, control), if given. */
  store: StoreUrl | undefined;
}

/** Graceful stop: running actors finish within the grace period, unstarted messages go back. */
async function shutdown(booted: Booted, why: string, grace: number, log: Logger): Promise<never> {
  const { broker, worker, pool, recycler, control, store } = booted;
  log.info({ reason: why, graceMs: grace }, "Stopping: finishing running actors, giving back unstarted messages");
  setTimeout(() => {
    log.error("Shutdown did not finish in time; exiting");
    process.exit(ExitCode.ERROR);
  }, grace + CLOSE_MARGIN).unref();
  recycler?.stop();
  control?.stop();
  await worker.stop({ timeout: grace });
  // Anything still on a thread after the grace period is abandoned; the broker redelivers it.
  await pool?.destroy().catch((error: unknown) => log.error({ err: error }, "Closing the thread pool failed"));
  // The supervisor keeps a departed process's counters in its /metrics: give it the final ones.
  const metrics = await metricsOf(booted);
  await broker.close().catch((error: unknown) => log.error({ err: error }, "Closing the broker failed"));
  await store?.close().catch((error: unknown) => log.error({ err: error }, "Closing the --store connection failed"));
  await reportAndWait({ type: "metrics", id: 0, metrics });
  process.exit(ExitCode.OK);
}

/** `RedisBroker redis://user:***@host:6379`: the broker's class and its URL, password masked. */
function brokerLabel(broker: Broker, url: string | undefined): string {
  return url === undefined ? broker.constructor.name : `${broker.constructor.name} ${redactUrl(url)}`;
}

function summarize({ broker, worker, pool, url, isDefault }: Booted): BootSummary {
  let name = brokerLabel(broker, url);
  if (isDefault) name += " (the default: choose another with --broker or DRAMATS_BROKER)";
  return {
    broker: name,
    queues: worker.queues,
    actors: [...broker.actors.values()].map((a) => ({ name: a.actorName, queue: a.queueName, threaded: a.options.threaded === true })),
    concurrency: worker.concurrency,
    cpuThreads: pool?.size ?? 0,
  };
}

/** Imports the modules and prepares the broker, thread pool and worker (not yet started). */
async function boot(
  options: CliOptions,
  log: Logger,
  retire: (reason: string) => void,
  blockWatch: BlockWatch,
  control: { restart(reason: string): void; leave(reason: string): void },
): Promise<Booted> {
  const modules = options.modules.map((spec) => resolveModule(spec));
  await importModules(modules, options.verbose);

  const { broker, url, isDefault } = await chooseBroker(options.broker);
  // Before any consumer opens: the supervisor must know every one that may hold messages.
  broker.onConsumerOpened((consumer) => {
    const address = broker.recoveryAddress();
    const id = consumer.recoveryId;
    if (address !== undefined && id !== undefined) report({ type: "consumer", address, id });
  });
  if (options.store !== undefined) {
    useSchedulerStore(broker, options.store);
    log.info({ store: redactUrl(options.store) }, "Scheduler claims cron ticks in the --store store");
  }
  if (!options.scheduler) {
    for (const scheduler of broker.middleware) if (scheduler instanceof Scheduler) scheduler.enabled = false;
    log.info("Scheduler off (--no-scheduler): this process enqueues no cron ticks");
  }
  if (broker.actors.size === 0) {
    log.warn("The modules declared no actors on the broker (do they import the same dramats as this command?)");
  }

  const threaded = [...broker.actors.values()].filter((a) => a.options.threaded === true);
  let pool: ThreadPool | undefined;
  if (threaded.length > 0) {
    const threads = broker.middleware.find((m): m is Threads => m instanceof Threads);
    if (threads === undefined) {
      log.warn("Threaded actors declared, but the broker's middleware has no Threads: they run on the event loop");
    } else {
      // Loaded only when some actor is threaded: workers without any never load piscina.
      const { ThreadPool } = await import("../threads/pool.ts");
      pool = new ThreadPool({ modules: modules.map((m) => m.url), size: options.cpuThreads });
      try {
        await pool.warmUp();
      } catch (error) {
        await pool.destroy().catch(() => {});
        const e = error as Error;
        throw new CliError(`Pool threads could not import the modules: ${e.name}: ${e.message}`, ExitCode.IMPORT_ERROR, { cause: e });
      }
      threads.usePool(pool);
    }
  }

  const recycler =
    options.maxMessages !== undefined || options.maxMemory !== undefined
      ? new Recycler({ maxMessages: options.maxMessages, maxMemory: options.maxMemory, retire })
      : undefined;
  if (recycler) broker.addMiddleware(recycler);
  // First in the chain: a message known to block is dead-lettered before any other hook runs for it.
  const first = broker.middleware[0];
  broker.addMiddleware(blockWatch, first === undefined ? {} : { before: first.constructor as new () => typeof first });
  // One connection to the --store store for the registry, the queue pauses and the control key.
  const store = options.store === undefined ? undefined : new StoreUrl(options.store);
  const publisher = publisherFor(broker, options, cluster.worker === undefined ? null : process.ppid, store);
  if (publisher) broker.addMiddleware(publisher, { before: BlockWatch });
  const history = historyFor(broker, options, publisher?.id);
  if (history) broker.addMiddleware(history);

  await broker.emit("afterProcessBoot", broker);
  const worker = new Worker(broker, {
    concurrency: options.threads,
    ...(options.prefetch === undefined ? {} : { prefetch: options.prefetch }),
    ...(options.queues ? { queues: options.queues } : {}),
    stallTimeout: options.stallTimeout,
    ...(store === undefined ? {} : { pauseStore: () => store.open() }),
  });
  const ownStore = broker.store;
  const controlStore = store !== undefined ? () => store.open() : ownStore !== undefined ? async (): Promise<KeyValueStore> => ownStore : undefined;
  const watch =
    publisher !== undefined && controlStore !== undefined
      ? new WorkerControlWatch({ store: controlStore, workerId: publisher.id, period: Math.min(options.registryInterval, MAX_CONTROL_PERIOD), ...control, log })
      : undefined;
  await checkBroker(broker, options.queues ?? [...broker.queues], brokerLabel(broker, url));
  return { broker, worker, pool, recycler, url, isDefault, health: new ConsumerHealth(worker, retire), control: watch, store };
}

/**
 * The broker this process consumes from: `--broker`/`DRAMATS_BROKER` (set after the imports,
 * so it wins over the modules' own setBroker, whose middleware it keeps), else the modules'
 * broker, else the embedded default, an SQLite file in the working directory.
 */
async function chooseBroker(requested: string | undefined): Promise<{ broker: Broker; url: string | undefined; isDefault: boolean }> {
  const declared = peekBroker();
  const origin = declared && brokerOrigin(declared);
  if (requested === undefined) {
    if (declared !== undefined) return { broker: declared, url: origin?.url, isDefault: origin?.source === "default" };
    return { broker: await declareOn(await brokerFromUrl(DEFAULT_BROKER_URL)), url: DEFAULT_BROKER_URL, isDefault: true };
  }
  // A module that called connect() already holds this very broker.
  if (declared !== undefined && origin?.url === requested) return { broker: declared, url: requested, isDefault: false };
  // Keep the modules' middleware (Results, rate limits...): their actors' options need it.
  const broker = await declareOn(await brokerFromUrl(requested, declared ? { middleware: [...declared.middleware] } : {}));
  if (declared !== undefined) await declared.close().catch(() => {});
  return { broker, url: requested, isDefault: false };
}

/**
 * One cheap round trip per queue it will consume (which declares it), so a wrong URL or password
 * or a down broker fails the boot with exit code 3, and queues declared with other arguments
 * (RabbitMQ's x-max-priority) or a database schema newer than this dramats with exit code 2.
 */
async function checkBroker(broker: Broker, queues: readonly string[], label: string): Promise<void> {
  if (queues.length === 0) return;
  for (const queue of queues) if (!broker.queues.has(queue)) broker.declareQueue(queue);
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      Promise.all(queues.map((queue) => broker.depths(queue))),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${BROKER_CHECK_TIMEOUT} ms`)), BROKER_CHECK_TIMEOUT);
      }),
    ]);
  } catch (error) {
    await broker.close().catch(() => {});
    // Reached, but its queues were declared otherwise: a configuration error, which no restart fixes.
    if (isArgumentsMismatch(error)) throw new CliError(`Broker (${label}) refused the queue declaration: ${error.message}`, ExitCode.IMPORT_ERROR, { cause: error });
    // Reached, but its schema is newer than this dramats (PostgreSQL): upgrading dramats fixes it, a restart does not.
    if ((error as { code?: unknown } | null)?.code === "DRAMATS_ERR_SCHEMA_VERSION_TOO_NEW") throw new CliError(`Broker (${label}): ${(error as Error).message}`, ExitCode.IMPORT_ERROR, { cause: error });
    throw new CliError(`Cannot reach the broker (${label}): ${(error as Error)?.message ?? String(error)}`, ExitCode.BROKER_CONNECTION_ERROR, {
      cause: error,
    });
  } finally {
    clearTimeout(timer);
  }
}

/** Answers a metrics request with the Prometheus middleware's JSON (nothing if it is absent). */
async function sendMetrics(running: Booted | undefined, id: number): Promise<void> {
  report({ type: "metrics", id, metrics: running ? await metricsOf(running) : [] });
}

async function metricsOf({ broker, health }: Booted): Promise<unknown[]> {
  const prometheus = broker.middleware.find((m): m is Prometheus => m instanceof Prometheus);
  try {
    return [...(prometheus ? await prometheus.metricsJson() : []), health.metric()];
  } catch (error) {
    getLogger("cli").error({ err: error }, "Collecting metrics failed");
    return [];
  }
}

function parseBlocked(json: string | undefined): string[] {
  try {
    const ids: unknown = JSON.parse(json ?? "[]");
    return Array.isArray(ids) ? ids.filter((id): id is string => typeof id === "string") : [];
  } catch {
    return [];
  }
}
