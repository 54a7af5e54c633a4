#!/usr/bin/env node
// The `dramats` command. The same file runs as the supervisor (cluster primary) and, forked
// by it, as each worker process.
import cluster from "node:cluster";
import { readFileSync } from "node:fs";
import { configureLogging, getLogger } from "../logging.ts";
import { parseArgs, type CliOptions } from "./args.ts";
import { BROKER_ENV, IN_PROCESS_SCHEMES } from "../connect.ts";
import { addUrlSecret, redact } from "../redact.ts";
import { checkBrokerUrl } from "./broker-url.ts";
import { isOperatorCommand, runOperatorCommand } from "./commands/index.ts";
import { CliError, ExitCode } from "./exit-codes.ts";
import { WORKER_ENV } from "./ipc.ts";
import { LogFile } from "./log-output.ts";
import { resolveModule, withWorkerV8Defaults, workerExecArgv } from "./modules.ts";
import { removePidFile, writePidFile } from "./pid-file.ts";
import { Supervisor } from "./supervisor.ts";
import { runWorkerProcess } from "./worker-process.ts";

/** The package version, from the package.json above this file (source or dist). */
function version(): string {
  for (let dir = new URL("./", import.meta.url); dir.pathname !== "/"; dir = new URL("../", dir)) {
    try {
      const manifest = JSON.parse(readFileSync(new URL("package.json", dir), "utf8")) as { name?: string; version?: string };
      if (manifest.name === "dramats") return manifest.version ?? "0.0.0";
    } catch {
      // Not here; look one folder up.
    }
  }
  return "0.0.0";
}

async function runSupervisor(options: CliOptions): Promise<number> {
  if (options.heartbeatTimeout <= options.heartbeatInterval * 2) {
    throw new CliError(
      `--heartbeat-timeout (${options.heartbeatTimeout} ms) must be more than twice --heartbeat-interval (${options.heartbeatInterval} ms)`,
      ExitCode.IMPORT_ERROR,
    );
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
  const execArgv = withWorkerV8Defaults(workerExecArgv(modules));

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
  try {
    const supervisor = new Supervisor({
      processes: options.processes,
      heartbeatTimeout: options.heartbeatTimeout,
      bootTimeout: options.bootTimeout,
      grace: options.grace,
      execArgv,
      watch: options.watch,
      logFile,
      metrics: options.metrics,
      logger: getLogger("cli"),
    });
    return await supervisor.run();
  } finally {
    if (options.pidFile !== undefined) removePidFile(options.pidFile);
    logFile?.close();
  }
}

async function main(): Promise<void> {
  let code: number;
  try {
    if (isOperatorCommand(process.argv[2])) {
      // `dramats queues`, `requeue`...: one process, no workers (lib/cli/commands/).
      code = await runOperatorCommand(process.argv.slice(2), version());
    } else {
      const options = parseArgs(process.argv.slice(2), version());
      if (cluster.isPrimary) {
        code = await runSupervisor(options);
      } else {
        await runWorkerProcess(options, Number(process.env[WORKER_ENV.index] ?? 0));
        return;
      }
    }
  } catch (error) {
    if (!(error instanceof CliError)) throw error;
    if (error.message) process.stderr.write(`dramats: ${redact(error.message)}\n`);
    code = error.exitCode;
  }
  process.exit(code);
}

await main();
