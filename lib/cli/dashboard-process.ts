// `dramats MODULES --dashboard`: the supervisor runs `dramats dashboard` beside the worker
// processes, with the same modules, broker and store, restarts it if it fails, and stops it
// with the fleet. A process of its own: the supervisor stays free of broker connections.
import { spawn, type ChildProcess } from "node:child_process";
import type { Logger } from "../logging.ts";
import type { CliOptions } from "./args.ts";

/** Wait before starting a dashboard that failed again (ms). */
const RESTART_DELAY = 1_000;
/** How long a stopping dashboard may take before it is killed (ms). */
const STOP_TIMEOUT = 5_000;

/** The `dramats dashboard` command line for the worker command's options. */
export function dashboardArguments(options: CliOptions): string[] {
  const dashboard = options.dashboard!;
  const args = ["dashboard", ...options.modules, "--port", String(dashboard.port), "--host", dashboard.host];
  if (options.broker !== undefined) args.push("--broker", options.broker);
  if (options.store !== undefined) args.push("--store", options.store);
  for (const queue of options.queues ?? []) args.push("--queue", queue);
  if (options.verbose) args.push("--verbose");
  return args;
}

/** The dashboard process: started with `start`, restarted when it fails, ended by `stop`. */
export class DashboardProcess {
  #child: ChildProcess | undefined;
  #stopping = false;
  #timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly args: readonly string[],
    private readonly log: Logger,
  ) {}

  start(): void {
    if (this.#stopping) return;
    // The same Node flags (tsx for TypeScript modules) and entry script as this process.
    const child = spawn(process.execPath, [...process.execArgv, process.argv[1]!, ...this.args], { stdio: ["ignore", "inherit", "inherit"] });
    this.#child = child;
    child.once("error", (error) => this.log.error({ err: error }, "Cannot start the dashboard process"));
    child.once("exit", (code, signal) => {
      this.#child = undefined;
      if (this.#stopping || code === 0) return;
      this.log.error({ code, signal }, "The dashboard process failed; starting it again");
      this.#timer = setTimeout(() => this.start(), RESTART_DELAY);
      this.#timer.unref();
    });
  }

  /** Stops the dashboard (SIGTERM, then SIGKILL after 5 s). */
  async stop(): Promise<void> {
    this.#stopping = true;
    clearTimeout(this.#timer);
    const child = this.#child;
    if (child === undefined || child.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      const kill = setTimeout(() => child.kill("SIGKILL"), STOP_TIMEOUT);
      child.once("exit", () => {
        clearTimeout(kill);
        resolve();
      });
      child.kill("SIGTERM");
    });
  }
}
