// The `dramats` command's supervisor (cluster primary): checks the options, forks the worker
// processes and watches them. Only the primary loads this file and what it imports (the metrics
// server, the log file, the file watcher); worker processes never do.
import { configureLogging, getLogger } from "../logging.ts";
import type { CliOptions } from "./args.ts";
import { BROKER_ENV, IN_PROCESS_SCHEMES } from "../connect.ts";
import { addUrlSecret } from "../redact.ts";
import { checkBrokerUrl, withRecoveryTimeout } from "./broker-url.ts";
import { CliError, ExitCode } from "./exit-codes.ts";
import { DashboardProcess, dashboardArguments } from "./dashboard-process.ts";
import { LogFile } from "./log-output.ts";
import { resolveModule, WORKER_GC_DEFAULTS, WORKER_V8_DEFAULTS, withWorkerV8Defaults, workerExecArgv } from "./modules.ts";
import { removePidFile, writePidFile } from "./pid-file.ts";
import { Supervisor } from "./supervisor.ts";
import { WORKER_ENV } from "./ipc.ts";

export async function runSupervisor(options: CliOptions): Promise<number> {
  if (options.heartbeatTimeout <= options.heartbeatInterval * 2) {
    throw new CliError(
      `--heartbeat-timeout (${options.heartbeatTimeout} ms) must be more than twice --heartbeat-interval (${options.heartbeatInterval} ms)`,
      ExitCode.IMPORT_ERROR,
    );
  }
  if (options.recoveryTimeout !== undefined) {
    if (options.broker === undefined) {
      throw new CliError(
        "--recovery-timeout sets a parameter of the broker URL: name the broker with --broker or DRAMATS_BROKER " +
          "(a broker the modules build themselves takes heartbeatTimeout or leaseTime as an option)",
        ExitCode.IMPORT_ERROR,
      );
    }
    // Worker processes and the modules' connect() then build the broker with it.
    options = { ...options, broker: withRecoveryTimeout(options.broker, options.recoveryTimeout) };
  }
  // Resolve (not import) here: a missing file or a bad URL fails fast, before any fork.
  if (options.broker !== undefined) {
    addUrlSecret(options.broker);
    const scheme = checkBrokerUrl(options.broker);
    if (IN_PROCESS_SCHEMES.has(scheme) && options.processes > 1) {
      throw new CliError(
        `${scheme}// keeps messages inside one process, so ${options.processes} worker processes would each see only their own: ` +
          "pass --processes 1, or use sqlite://PATH to share a queue between processes",
        ExitCode.IMPORT_ERROR,
      );
    }
    // Modules that call connect() in the worker processes then get the broker the command names.
    process.env[BROKER_ENV] = options.broker;
  }
  const modules = options.modules.map((spec) => resolveModule(spec));
  const execArgv = withWorkerV8Defaults(workerExecArgv(modules), undefined, [...WORKER_V8_DEFAULTS, ...WORKER_GC_DEFAULTS]);

  let logFile: LogFile | undefined;
  if (options.logFile !== undefined) {
    try {
      logFile = new LogFile(options.logFile);
    } catch (error) {
      throw new CliError(`Cannot open log file ${options.logFile}: ${(error as Error).message}`, ExitCode.ERROR, { cause: error });
    }
  }
  const level = options.verbose ? "debug" : (process.env.DRAMATS_LOG_LEVEL ?? "info");
  configureLogging({ level, base: { pid: process.pid, process: "MainProcess" } }, logFile?.destination());

  if (options.pidFile !== undefined) writePidFile(options.pidFile);
  const dashboard = options.dashboard === undefined ? undefined : new DashboardProcess(dashboardArguments(options), getLogger("cli"));
  dashboard?.start();
  try {
    const supervisor = new Supervisor({
      processes: options.processes,
      heartbeatTimeout: options.heartbeatTimeout,
      heartbeatInterval: options.heartbeatInterval,
      bootTimeout: options.bootTimeout,
      grace: options.grace,
      execArgv,
      env: { [WORKER_ENV.options]: JSON.stringify(options) },
      watch: options.watch,
      logFile,
      metrics: options.metrics,
      logger: getLogger("cli"),
    });
    return await supervisor.run();
  } finally {
    await dashboard?.stop();
    if (options.pidFile !== undefined) removePidFile(options.pidFile);
    await logFile?.drained();
    logFile?.close();
  }
}
