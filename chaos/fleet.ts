// One `dramats` command (supervisor and worker processes) started by the suite, in a process
// group of its own so every process it started can always be found and killed.
import { spawn, type ChildProcess } from "node:child_process";
import { closeSync, openSync, readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { tsxEntry } from "../lib/threads/tsx.ts";

const MAIN = fileURLToPath(new URL("../lib/cli/main.ts", import.meta.url));
const APP = fileURLToPath(new URL("./app.ts", import.meta.url));
const ROOT = fileURLToPath(new URL("../", import.meta.url));

export interface FleetSettings {
  processes: number;
  /** `--threads`: async actors at once per process (the worker's concurrency). */
  threads: number;
  /** `--heartbeat-timeout`: silence after which the supervisor kills a blocked process (ms). */
  heartbeatTimeout: number;
  /** `--grace` (ms). */
  grace: number;
}

/** Process ids of a process group, read from /proc (Linux). */
export function groupMembers(pgid: number): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      // Fields after the command name (which may hold spaces): state, ppid, pgrp.
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (Number(fields[2]) === pgid && fields[0] !== "Z") pids.push(Number(entry));
    } catch {
      // Gone meanwhile.
    }
  }
  return pids;
}

/** Whether a process exists (and is not a zombie). */
export function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z";
  } catch {
    return false;
  }
}

export class Fleet {
  readonly child: ChildProcess;
  readonly pid: number;
  readonly startedAt = Date.now();
  /** The supervisor's exit code or signal, once it exited. */
  exit: number | string | undefined;
  readonly #exited: Promise<number | string>;

  /**
   * Starts `node --import tsx lib/cli/main.ts chaos/app.ts ...` with `env` for the app; its output
   * (pino JSON lines) goes to `logFile`.
   */
  constructor(settings: FleetSettings, env: Record<string, string>, readonly logFile: string) {
    const out = openSync(logFile, "a");
    const args = [
      "--import", tsxEntry(".")!, MAIN, APP,
      "--processes", String(settings.processes),
      "--threads", String(settings.threads),
      "--heartbeat-timeout", String(settings.heartbeatTimeout),
      "--grace", String(settings.grace),
      "--no-metrics",
      "--no-scheduler",
    ];
    this.child = spawn(process.execPath, args, {
      cwd: ROOT,
      env: { ...process.env, DRAMATS_LOG_LEVEL: "warn", ...env },
      stdio: ["ignore", out, out],
      detached: true,
    });
    closeSync(out);
    this.pid = this.child.pid!;
    this.#exited = new Promise((resolve) => this.child.on("exit", (code, signal) => resolve((this.exit = code ?? signal ?? -1))));
    this.child.on("error", () => {});
  }

  /** The worker processes: the supervisor's children (orphans of a killed supervisor are not its children). */
  workers(): number[] {
    return groupMembers(this.pid).filter((pid) => pid !== this.pid && parentOf(pid) === this.pid);
  }

  /** Every live process of this command's group: supervisor, workers, and orphaned workers. */
  members(): number[] {
    return groupMembers(this.pid);
  }

  signal(signal: NodeJS.Signals): void {
    try {
      process.kill(this.pid, signal);
    } catch {
      // Already gone.
    }
  }

  /** Resolves with the supervisor's exit code (or signal), or undefined after `timeout` ms. */
  exited(timeout: number): Promise<number | string | undefined> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    return Promise.race([
      this.#exited.finally(() => clearTimeout(timer)),
      new Promise<undefined>((resolve) => {
        timer = setTimeout(() => resolve(undefined), timeout);
      }),
    ]);
  }

  /** The log's JSON lines (pino), parsed. */
  logRecords(): Record<string, unknown>[] {
    const records: Record<string, unknown>[] = [];
    for (const line of readFileSync(this.logFile, "utf8").split("\n")) {
      if (!line.startsWith("{")) continue;
      try {
        records.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        // A line cut short by a SIGKILL.
      }
    }
    return records;
  }

  /** SIGKILLs every process left in the group. */
  destroy(): void {
    for (const pid of this.members()) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // Gone meanwhile.
      }
    }
  }
}

function parentOf(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
  } catch {
    return 0;
  }
}

/** Kills one process, ignoring one already gone. */
export function kill(pid: number, signal: NodeJS.Signals = "SIGKILL"): boolean {
  try {
    process.kill(pid, signal);
    return true;
  } catch {
    return false;
  }
}
