import { availableParallelism } from "node:os";
import { Command, CommanderError, InvalidArgumentError, Option } from "commander";
import { MIN_URL_RECOVERY_TIMEOUT } from "../url-duration.ts";
import { CliError, ExitCode } from "./exit-codes.ts";
import { StoreUrl } from "../../middleware/store-url.ts";
import { InvalidOptions } from "../errors.ts";

/** Everything the command line says, validated and defaulted. Times in ms, memory in MB. */
export interface CliOptions {
  /** Module paths or package names, as typed. */
  modules: string[];
  processes: number;
  /** Async actors running at once per worker process (the Worker's concurrency). */
  threads: number;
  /** Deliveries each queue's consumer may hold per process; undefined: the adaptive window. */
  prefetch: number | undefined;
  /** Size of each process's piscina pool for `threaded` actors. */
  cpuThreads: number;
  /** Canonical queue names to consume; undefined means all. */
  queues: string[] | undefined;
  /** From `--broker`, else `DRAMATS_BROKER`; undefined means the modules' `setBroker`, else `sqlite://./dramats.sqlite`. */
  broker: string | undefined;
  /** Run cron schedules in the worker processes (`--no-scheduler` turns them off). */
  scheduler: boolean;
  /** Where the Scheduler claims cron ticks (`--store URL`); undefined: the broker's own store. */
  store: string | undefined;
  /** How long in-flight actors may take to finish on shutdown. */
  grace: number;
  watch: string | undefined;
  pidFile: string | undefined;
  logFile: string | undefined;
  verbose: boolean;
  /** Replace a worker process after it processed this many messages. */
  maxMessages: number | undefined;
  /** Replace a worker process once its RSS passes this many MB. */
  maxMemory: number | undefined;
  /** How often a worker process tells the supervisor it is alive. */
  heartbeatInterval: number;
  /** Silence after which the supervisor deems a worker's event loop blocked and kills it. */
  heartbeatTimeout: number;
  /** How long a worker process may take to import modules and start consuming. */
  bootTimeout: number;
  /** The Worker's stallTimeout: a consumer with room, idle this long while its queue has ready messages, is restarted; 0: never. */
  stallTimeout: number;
  /**
   * Set on the broker URL: the Redis heartbeat timeout or the SQLite lease, after which a dead
   * process's messages go back when no supervisor gave them back; undefined: the URL's or the broker's.
   */
  recoveryTimeout: number | undefined;
  /** How often each worker process publishes its record to the worker registry (ms); 0: never. */
  registryInterval: number;
  /** Where the supervisor serves all processes' Prometheus metrics; undefined: not at all. */
  metrics: { host: string; port: number } | undefined;
  /** `--dashboard`: the web dashboard, served by a process the supervisor runs; undefined: none. */
  dashboard: { host: string; port: number } | undefined;
}

/** Defaults, in one place. */
export const CLI_DEFAULTS = Object.freeze({
  threads: 8,
  grace: 600_000,
  heartbeatInterval: 1_000,
  heartbeatTimeout: 30_000,
  bootTimeout: 60_000,
  stallTimeout: 30_000,
  metricsPort: 9191,
  metricsHost: "127.0.0.1",
  registryInterval: 5_000,
  dashboardPort: 9192,
});

function integer(min: number) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min) throw new InvalidArgumentError(`expected an integer >= ${min}, got ${JSON.stringify(value)}`);
    return n;
  };
}

/**
 * `--store URL`, checked at parse time (it is connected to only when a schedule needs it).
 * Not a commander argParser: commander would echo the URL, password and all.
 * @throws CliError (2) naming the problem, the URL masked
 */
export function checkedStoreUrl(value: string): string {
  try {
    return new StoreUrl(value).url;
  } catch (error) {
    if (error instanceof InvalidOptions) throw new CliError(`--store: ${error.message}`, ExitCode.IMPORT_ERROR);
    throw error;
  }
}

function buildCommand(version: string): Command {
  const cores = availableParallelism();
  return new Command("dramats")
    .description("Run dramats workers: import MODULEs (paths or package names, .js or .ts) and process their actors' messages.")
    .argument("<modules...>", "actor modules to import, e.g. app/actors.ts or my-package/actors")
    .version(version, "-V, --version")
    .addOption(new Option("-p, --processes <n>", "worker processes").argParser(integer(1)).default(cores))
    .addOption(new Option("-t, --threads <n>", "async actors running at once per process").argParser(integer(1)).default(CLI_DEFAULTS.threads))
    .addOption(new Option("--prefetch <n>", "deliveries each queue's consumer may hold per process, running ones included (default: adaptive)").argParser(integer(1)))
    .addOption(new Option("--cpu-threads <n>", "worker_threads per process for threaded actors").argParser(integer(1)).default(cores))
    .addOption(new Option("-Q, --queues <queue...>", "consume only these queues (default: all)"))
    .addOption(new Option("-b, --broker <url>", "broker URL: redis://host:port/db[?namespace=ns], rediss://, amqp://, amqps://, postgres://user@host/db[?schema=s], sqlite://PATH, memory:// (default: the modules' setBroker, else sqlite://./dramats.sqlite)").env("DRAMATS_BROKER"))
    .addOption(new Option("--grace <ms>", "time in-flight actors get to finish on shutdown").argParser(integer(0)).default(CLI_DEFAULTS.grace))
    .addOption(new Option("--watch <dir>", "restart worker processes gracefully when files under DIR change"))
    .addOption(new Option("--pid-file <file>", "write the supervisor's pid to FILE"))
    .addOption(new Option("--log-file <file>", "append all logs to FILE instead of stdout"))
    .addOption(new Option("-v, --verbose", "log at debug level").default(false))
    .addOption(new Option("--max-messages <n>", "replace a worker process after N messages").argParser(integer(1)))
    .addOption(new Option("--max-memory <mb>", "replace a worker process once its RSS passes MB").argParser(integer(1)))
    .addOption(new Option("--heartbeat-interval <ms>", "worker process heartbeat period").argParser(integer(10)).default(CLI_DEFAULTS.heartbeatInterval))
    .addOption(
      new Option("--heartbeat-timeout <ms>", "kill a worker process silent this long (blocked event loop)")
        .argParser(integer(50))
        .default(CLI_DEFAULTS.heartbeatTimeout),
    )
    .addOption(
      new Option("--recovery-timeout <ms>", "redis:// heartbeat_timeout or sqlite: lease_time set on the broker URL: how long a dead process's messages wait when no supervisor gives them back (default: 60000 Redis, 30000 SQLite)")
        .argParser(integer(MIN_URL_RECOVERY_TIMEOUT)),
    )
    .addOption(new Option("--boot-timeout <ms>", "kill a worker process not consuming after this long").argParser(integer(100)).default(CLI_DEFAULTS.bootTimeout))
    .addOption(
      new Option("--stall-timeout <ms>", "restart a consumer that had room and fetched nothing this long while its queue has ready messages (0: never)")
        .argParser(integer(0))
        .default(CLI_DEFAULTS.stallTimeout),
    )
    .addOption(
      new Option("--metrics-port <port>", "serve every process's Prometheus metrics on this port (0: any free one)")
        .argParser(integer(0))
        .env("DRAMATS_METRICS_PORT")
        .default(CLI_DEFAULTS.metricsPort),
    )
    .addOption(new Option("--metrics-host <host>", "address the metrics server binds to").env("DRAMATS_METRICS_HOST").default(CLI_DEFAULTS.metricsHost))
    .addOption(new Option("--no-metrics", "do not serve metrics"))
    .addOption(new Option("--store <url>", "claim cron ticks, publish the worker registry and read queue pauses and stop/restart requests in this store: redis://, rediss:// or sqlite://PATH (needed for these on RabbitMQ)"))
    .addOption(new Option("--registry-interval <ms>", "publish each worker process's record (dramats workers) this often; 0: never").argParser(integer(0)).default(CLI_DEFAULTS.registryInterval))
    .addOption(new Option("--dashboard", "serve the web dashboard too (read-only unless DRAMATS_DASHBOARD_TOKEN is set)"))
    .addOption(new Option("--dashboard-port <port>", "the dashboard's port (0: any free one)").argParser(integer(0)).default(CLI_DEFAULTS.dashboardPort))
    .addOption(new Option("--dashboard-host <host>", "address the dashboard binds to").default("127.0.0.1"))
    .addOption(new Option("--no-scheduler", "enqueue no cron ticks from these worker processes (other fleets still do)"))
    .addHelpText("after", "\nOperator commands (each with --help): dramats queues | dead-letters | requeue | purge | schedules | cancel | workers | health | dashboard")
    .showHelpAfterError("(run dramats --help for usage)");
}

/** Environment variables that stand in for options (the command line wins). */
const ENV_OPTIONS = ["DRAMATS_BROKER", "DRAMATS_METRICS_PORT", "DRAMATS_METRICS_HOST"] as const;

export interface ParseIo {
  /** Where help and version go. @defaultValue process.stdout */
  out?: (text: string) => void;
  /** Where usage errors go. @defaultValue process.stderr */
  err?: (text: string) => void;
  env?: NodeJS.ProcessEnv;
}

/**
 * Parses `argv` (without `node` and the script).
 * @throws CliError with exit code 0 after printing help or the version, or 2 for a bad command line.
 */
export function parseArgs(argv: readonly string[], version: string, io: ParseIo = {}): CliOptions {
  const command = buildCommand(version)
    .exitOverride()
    .configureOutput({
      writeOut: io.out ?? ((text) => process.stdout.write(text)),
      writeErr: io.err ?? ((text) => process.stderr.write(text)),
    });
  // Commander reads `.env()` options from process.env; let callers (specs) supply their own.
  const saved = ENV_OPTIONS.map((name) => [name, process.env[name]] as const);
  if (io.env) {
    for (const name of ENV_OPTIONS) {
      if (io.env[name] === undefined) delete process.env[name];
      else process.env[name] = io.env[name];
    }
  }
  try {
    command.parse([...argv], { from: "user" });
  } catch (error) {
    throw fromCommanderError(error);
  } finally {
    if (io.env) {
      for (const [name, value] of saved) {
        if (value === undefined) delete process.env[name];
        else process.env[name] = value;
      }
    }
  }
  const o = command.opts();
  return {
    modules: command.processedArgs[0] as string[],
    processes: o.processes,
    threads: o.threads,
    prefetch: o.prefetch,
    cpuThreads: o.cpuThreads,
    queues: o.queues,
    broker: o.broker || undefined,
    scheduler: o.scheduler !== false,
    store: o.store === undefined ? undefined : checkedStoreUrl(o.store),
    grace: o.grace,
    watch: o.watch,
    pidFile: o.pidFile,
    logFile: o.logFile,
    verbose: o.verbose,
    maxMessages: o.maxMessages,
    maxMemory: o.maxMemory,
    heartbeatInterval: o.heartbeatInterval,
    heartbeatTimeout: o.heartbeatTimeout,
    bootTimeout: o.bootTimeout,
    stallTimeout: o.stallTimeout,
    recoveryTimeout: o.recoveryTimeout,
    registryInterval: o.registryInterval,
    metrics: o.metrics === false ? undefined : { host: o.metricsHost, port: o.metricsPort },
    dashboard: o.dashboard === true ? { host: o.dashboardHost, port: o.dashboardPort } : undefined,
  };
}

/**
 * A parse error from commander, which has printed the help, the version or the usage error
 * already, as a CliError with nothing more to say (exit 0 for help and version, 2 for usage).
 * Any other error is returned as it is.
 */
export function fromCommanderError(error: unknown): unknown {
  if (!(error instanceof CommanderError)) return error;
  return new CliError("", error.exitCode === 0 ? ExitCode.OK : ExitCode.IMPORT_ERROR, { cause: error });
}
