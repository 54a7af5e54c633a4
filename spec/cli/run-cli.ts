// Spawns the real `dramats` command for CLI specs and watches its output.
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { tsxEntry } from "../../lib/threads/tsx.ts";

export const MAIN = fileURLToPath(new URL("../../lib/cli/main.ts", import.meta.url));
/** tsx's loader by file URL, so the command also starts from a working directory without node_modules. */
export const TSX = tsxEntry(".")!;
export const ROOT = fileURLToPath(new URL("../../", import.meta.url));

/** One parsed pino line (or `{ msg: line }` for anything else the processes printed). */
export type LogLine = Record<string, unknown> & { msg?: string; pid?: number; process?: string };

export interface CliRun {
  readonly child: ChildProcess;
  readonly pid: number;
  readonly lines: LogLine[];
  stderr(): string;
  /** Resolves with the first line matching (a string: the line whose msg is that), waiting up to `timeout` ms. */
  waitFor(match: LineMatch, timeout?: number): Promise<LogLine>;
  /** How many lines so far match. */
  count(match: LineMatch): number;
  /** Resolves with the exit code (or the signal name), waiting up to `timeout` ms. */
  exited(timeout?: number): Promise<number | string>;
  signal(signal: NodeJS.Signals): void;
  /** Sends `signal` (SIGTERM unless told) and resolves with the exit code, as `exited` does. */
  stop(signal?: NodeJS.Signals, timeout?: number): Promise<number | string>;
  /** SIGKILLs the whole process group (supervisor and workers) if still running. */
  destroy(): void;
}

/** A line's exact msg, or a test on the whole line. */
export type LineMatch = string | ((line: LogLine) => boolean);

const matcher = (match: LineMatch) => (typeof match === "string" ? (line: LogLine) => line.msg === match : match);

/**
 * Runs `node --import tsx lib/cli/main.ts ...args` (or `command ...args`) in its own process group, so a spec can
 * always clean up every process it started.
 */
export function runCli(args: string[], options: { env?: NodeJS.ProcessEnv; cwd?: string; command?: string[] } = {}): CliRun {
  const [command, ...leading] = options.command ?? [process.execPath, "--import", TSX, MAIN];
  const child = spawn(command!, [...leading, ...args], {
    cwd: options.cwd ?? ROOT,
    env: { ...process.env, DRAMATS_LOG_LEVEL: "info", ...options.env },
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  const lines: LogLine[] = [];
  let err = "";
  let waiters: { match: (line: LogLine) => boolean; resolve: (line: LogLine) => void }[] = [];
  let partial = "";
  child.stdout!.setEncoding("utf8").on("data", (chunk: string) => {
    const parts = (partial + chunk).split("\n");
    partial = parts.pop()!;
    for (const text of parts) {
      if (!text.trim()) continue;
      let line: LogLine;
      try {
        line = JSON.parse(text) as LogLine;
      } catch {
        line = { msg: text };
      }
      lines.push(line);
      waiters = waiters.filter((w) => (w.match(line) ? (w.resolve(line), false) : true));
    }
  });
  child.stderr!.setEncoding("utf8").on("data", (chunk: string) => (err += chunk));
  const exit = new Promise<number | string>((resolve) => child.on("exit", (code, signal) => resolve(code ?? signal ?? -1)));
  const exited = (timeout = 15_000) =>
    Promise.race([
      exit,
      new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`dramats did not exit within ${timeout} ms; stderr: ${err}`)), timeout).unref()),
    ]);

  return {
    child,
    pid: child.pid!,
    lines,
    stderr: () => err,
    waitFor(match, timeout = 15_000) {
      const test = matcher(match);
      const seen = lines.find(test);
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          reject(new Error(`No matching log line within ${timeout} ms. Last lines:\n${lines.slice(-15).map((l) => JSON.stringify(l)).join("\n")}\nstderr: ${err}`));
        }, timeout);
        waiters.push({ match: test, resolve: (line) => (clearTimeout(timer), resolve(line)) });
      });
    },
    count(match) {
      return lines.filter(matcher(match)).length;
    },
    exited,
    signal(signal) {
      child.kill(signal);
    },
    stop(signal = "SIGTERM", timeout) {
      child.kill(signal);
      return exited(timeout);
    },
    destroy() {
      try {
        process.kill(-child.pid!, "SIGKILL");
      } catch {
        // Already gone.
      }
    },
  };
}

/** Matches the supervisor's boot line. */
export const isBootLine = (line: LogLine): boolean => typeof line.msg === "string" && line.msg.startsWith("dramats booted");

export const APP = "spec/fixtures/cli-stub-app.ts";
/** Short heartbeats and grace so the whole file stays quick. */
export const FAST = ["--heartbeat-interval", "100", "--heartbeat-timeout", "1500", "--grace", "2000", "--cpu-threads", "1", "--no-metrics"];
/** FAST, serving the fleet's metrics on a free port (the supervisor logs its URL). */
export const WITH_METRICS = [...FAST.filter((a) => a !== "--no-metrics"), "--metrics-port", "0"];

export interface CliSpec {
  /** This test's own temporary directory. */
  readonly dir: string;
  /** `<dir>/runs.txt`: where the fixture apps record their runs (pass it as CLI_SPEC_OUT). */
  readonly out: string;
  /** `runCli`, killed (with its whole process group) after the test. */
  start(args: string[], options?: Parameters<typeof runCli>[1]): CliRun;
  /** Kills every command this test started now, for cleanups that need them gone first. */
  destroyAll(): void;
}

/**
 * The setup every CLI spec shares, as mocha hooks of the calling `describe`: a fresh
 * temporary directory per test, removed after it along with every command it started.
 * Hooks registered after this call run after its cleanup.
 */
export function cliSpec(prefix = "dramats-cli-"): CliSpec {
  const started: CliRun[] = [];
  let dir = "";
  const spec: CliSpec = {
    get dir() {
      return dir;
    },
    get out() {
      return join(dir, "runs.txt");
    },
    start(args, options) {
      const run = runCli(args, options);
      started.push(run);
      return run;
    },
    destroyAll() {
      for (const run of started.splice(0)) run.destroy();
    },
  };
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), prefix));
  });
  afterEach(() => {
    spec.destroyAll();
    rmSync(dir, { recursive: true, force: true });
  });
  return spec;
}

/** The space-separated fields of each line a fixture app appended to `file`; none before it exists. */
export function recordsIn(file: string): string[][] {
  if (!existsSync(file)) return [];
  return readFileSync(file, "utf8")
    .split("\n")
    .filter(Boolean)
    .map((line) => line.split(" "));
}

/** Lines the fixture app appended: "<pid> <actor> <tag> <threadId>" (only `actor`'s when given). */
export function runs(file: string, actor?: string): { pid: number; actor: string; tag: string; threadId: number }[] {
  const all = recordsIn(file).map(([pid, name, tag, threadId]) => ({ pid: Number(pid), actor: name!, tag: tag!, threadId: Number(threadId) }));
  return actor === undefined ? all : all.filter((r) => r.actor === actor);
}

/** How many processes appended to `file`. */
export const pidsIn = (file: string): number => new Set(runs(file).map((r) => r.pid)).size;

export async function until(check: () => boolean, timeout = 10_000): Promise<void> {
  const deadline = Date.now() + timeout;
  while (!check()) {
    if (Date.now() > deadline) throw new Error("Condition not met in time");
    await new Promise((r) => setTimeout(r, 25));
  }
}
