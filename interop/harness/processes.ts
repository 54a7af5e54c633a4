// The processes of an interop run: Python Dramatiq workers (`python3 -m dramatiq`), a Python
// producer (driver.py) and `dramats` commands. Each runs in a process group of its own, so one
// SIGKILL to the group takes a whole fleet member down, and killAll() ends everything at the end.
import { spawn, type ChildProcess } from "node:child_process";
import { createInterface } from "node:readline";
import { isBootLine, runCli, type CliRun } from "../../spec/cli/run-cli.ts";
import { PYTHON, PYTHON_DIR, pythonEnv, ROOT } from "./env.ts";
import { checkError } from "./errors.ts";

const started: { kill(): void }[] = [];

/** SIGKILLs every process group this run started (idempotent). */
export function killAll(): void {
  for (const child of started.splice(0)) child.kill();
}

/** Children whose stdio all closed: no process of their group holds their pipes any more. */
const closed = new WeakSet<ChildProcess>();
function track(child: ChildProcess): ChildProcess {
  child.on("close", () => closed.add(child));
  return child;
}

/**
 * Signals the child's process group (the leader may have exited while its worker processes still
 * hold its pipes), unless the whole group is gone: then the id may belong to someone else.
 */
function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (closed.has(child)) return;
  try {
    process.kill(-child.pid!, signal);
  } catch {
    // already gone
  }
}

/** The last lines a process wrote, for failure messages. */
function tail(text: string, lines = 8): string {
  return text.trim().split("\n").slice(-lines).join("\n");
}

export interface PythonWorker {
  readonly pid: number;
  stderr(): string;
  /** SIGKILL to the whole group (the main process and its worker process). */
  kill(): void;
  /** SIGTERM, then SIGKILL after `ms`. */
  stop(ms?: number): Promise<void>;
}

/** `python3 -m dramatiq interop_app --processes 1 --threads N`, resolved once its worker process is ready. */
export async function startPythonWorker(env: Record<string, string>, threads = 4): Promise<PythonWorker> {
  const child = track(spawn(PYTHON, ["-m", "dramatiq", "interop_app", "--processes", "1", "--threads", String(threads), "--path", PYTHON_DIR, "--worker-shutdown-timeout", "5000"], {
    cwd: ROOT,
    env: pythonEnv(env),
    stdio: ["ignore", "ignore", "pipe"],
    detached: true,
  }));
  started.push({ kill: () => killGroup(child, "SIGKILL") });
  let stderr = "";
  const exited = new Promise<number | string>((resolve) => child.on("exit", (code, signal) => resolve(code ?? signal ?? -1)));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(checkError(`python3 -m dramatiq did not report ready within 20 s:\n${tail(stderr)}`)), 20_000);
    child.stderr!.setEncoding("utf8").on("data", (chunk: string) => {
      stderr += chunk;
      if (stderr.includes("Worker process is ready for action.")) {
        clearTimeout(timer);
        resolve();
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(checkError(`python3 -m dramatiq exited (${code}) before it was ready:\n${tail(stderr)}`));
    });
  });
  return {
    pid: child.pid!,
    stderr: () => stderr,
    kill: () => killGroup(child, "SIGKILL"),
    async stop(ms = 10_000) {
      if (child.exitCode !== null || child.signalCode !== null) return;
      killGroup(child, "SIGTERM");
      const timer = setTimeout(() => killGroup(child, "SIGKILL"), ms);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** A Python Dramatiq producer answering JSON commands (interop/python/driver.py). */
export class PythonDriver {
  readonly #child: ChildProcess;
  readonly #pending = new Map<number, { resolve(value: unknown): void; reject(error: Error): void }>();
  #next = 1;
  #stderr = "";
  readonly #ready: Promise<void>;
  readonly #exited: Promise<number | string>;

  constructor(env: Record<string, string>) {
    this.#child = track(spawn(PYTHON, [`${PYTHON_DIR}/driver.py`], { cwd: ROOT, env: pythonEnv({ INTEROP_CONFIRM: "1", ...env }), stdio: ["pipe", "pipe", "pipe"], detached: true }));
    const child = this.#child;
    started.push({ kill: () => killGroup(child, "SIGKILL") });
    child.stdin!.on("error", () => undefined); // a dead driver fails its pending calls below
    child.stderr!.setEncoding("utf8").on("data", (chunk: string) => (this.#stderr += chunk));
    this.#exited = new Promise((resolve) => child.on("exit", (code, signal) => resolve(code ?? signal ?? -1)));
    let ready!: () => void;
    this.#ready = new Promise((resolve) => (ready = resolve));
    createInterface({ input: child.stdout! }).on("line", (line) => {
      const answer = JSON.parse(line) as { ready?: boolean; id?: number; ok?: boolean; value?: unknown; error?: string };
      if (answer.ready) return ready();
      const waiter = this.#pending.get(answer.id!);
      this.#pending.delete(answer.id!);
      if (answer.ok) waiter?.resolve(answer.value);
      else waiter?.reject(checkError(`Python producer: ${answer.error}`));
    });
    void this.#exited.then((code) => {
      for (const waiter of this.#pending.values()) waiter.reject(checkError(`Python producer exited (${code}):\n${tail(this.#stderr)}`));
      this.#pending.clear();
    });
  }

  /** Runs one command of driver.py; rejects with the Python exception's last line. */
  async call<T = unknown>(op: string, args: Record<string, unknown> = {}, timeout = 30_000): Promise<T> {
    await Promise.race([this.#ready, this.#exited.then((code) => Promise.reject(checkError(`Python producer exited (${code}) at start:\n${tail(this.#stderr)}`)))]);
    const id = this.#next++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new Error(`Python producer: no answer to ${op} within ${timeout} ms:\n${tail(this.#stderr)}`));
      }, timeout);
      this.#pending.set(id, {
        resolve: (value) => (clearTimeout(timer), resolve(value as T)),
        reject: (error) => (clearTimeout(timer), reject(error)),
      });
      this.#child.stdin!.write(`${JSON.stringify({ id, op, ...args })}\n`);
    });
  }

  /** Ends its input (it closes its broker and exits), SIGKILL after 10 s. */
  async close(): Promise<void> {
    if (this.#child.exitCode !== null || this.#child.signalCode !== null) return;
    this.#child.stdin!.end();
    const timer = setTimeout(() => killGroup(this.#child, "SIGKILL"), 10_000);
    await this.#exited;
    clearTimeout(timer);
  }
}

/**
 * The real `dramats` command on interop/node/worker.ts, as a user starts it: `--broker URL`
 * (and DRAMATS_BROKER, which the module's connect() reads). Resolves once it booted.
 */
export async function startNodeWorker(brokerUrl: string, env: Record<string, string>, threads = 8): Promise<CliRun> {
  const run = runCli(
    ["interop/node/worker.ts", "--broker", brokerUrl, "--processes", "1", "--threads", String(threads), "--cpu-threads", "1", "--no-metrics", "--grace", "5000"],
    { env: { ...env, DRAMATS_BROKER: brokerUrl, DRAMATS_LOG_LEVEL: "info" } },
  );
  track(run.child);
  started.push({ kill: () => killGroup(run.child, "SIGKILL") });
  const why = (what: string) => `${what}:\n${tail(run.stderr())}\n${run.lines.slice(-5).map((l) => l.msg).join("\n")}`;
  try {
    await new Promise<void>((resolve, reject) => {
      const booted = () => run.lines.some(isBootLine);
      const timer = setTimeout(() => reject(checkError(why("dramats did not boot within 30 s"))), 30_000);
      run.child.stdout!.on("data", () => setImmediate(() => booted() && (clearTimeout(timer), resolve())));
      run.child.on("exit", (code, signal) => {
        clearTimeout(timer);
        setImmediate(() => (booted() ? resolve() : reject(checkError(why(`dramats exited with code ${code ?? signal} before it booted`)))));
      });
    });
  } catch (error) {
    killGroup(run.child, "SIGKILL"); // its worker process may outlive the supervisor
    throw error;
  }
  return run;
}
