// A worker process the bench drives: a `dramats` CLI (supervisor + worker processes, one unless
// told) or a BullMQ worker. It reads the workers' `BENCH ...` lines (bench/workers/report.ts),
// knows the pids of the processes that run the actors, and can freeze them (SIGSTOP) while the
// bench enqueues, so that enqueue and drain are timed apart without restarting the worker.
import { spawn, type ChildProcess } from "node:child_process";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

// `npm run bench` runs the bench compiled to JavaScript (bench/index.ts builds it), so workers
// run as in production; run from the sources (through tsx), the workers do too.
// Another compiled tree (an older commit, for A/B runs) may be given as `root`.
const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const COMPILED = import.meta.url.endsWith(".js");

/** A copy of dramats to run: the bench's own (default) or a compiled tree elsewhere. */
export interface Tree {
  /** Absolute directory holding lib/, brokers/, bench/ (trailing slash). */
  root: string;
  compiled: boolean;
}

export const OWN_TREE: Tree = { root: ROOT, compiled: COMPILED };

/** The URL of one of a tree's modules (`path` without extension), for dynamic import. */
export function moduleUrl(tree: Tree, path: string): string {
  return `file://${tree.root}${path}.${tree.compiled ? "js" : "ts"}`;
}

/** How node runs one of a tree's files: plainly when compiled, else with tsx's loader. */
function run(tree: Tree, path: string): string[] {
  return tree.compiled ? [`${tree.root}${path}.js`] : ["--import", "tsx", `${tree.root}${path}.ts`];
}

export interface SpawnOptions {
  /** A label for messages. */
  name: string;
  /** Extra environment for the worker. */
  env?: Record<string, string>;
  /** Extra node flags (e.g. --cpu-prof). */
  nodeArgs?: string[];
  /** The copy of dramats to run. @defaultValue OWN_TREE */
  tree?: Tree;
}

export interface DramatsSpawnOptions extends SpawnOptions {
  /** The CLI's --broker; none: the module sets its broker. */
  brokerUrl: string | undefined;
  /** The actors module (a tree's path without extension). @defaultValue "bench/workers/dramats-actors" */
  module?: string;
  /** The CLI's --threads (the worker's concurrency). */
  threads: number;
  /** The CLI's --processes. @defaultValue 1 */
  processes?: number;
}

export interface BullSpawnOptions extends SpawnOptions {
  redisUrl: string;
  queue: string;
  prefix: string;
  concurrency: number;
}

type Waiter = { until: number; resolve: (ns: bigint) => void };

/** Where one worker process's count stands: how many, and the worker's clock at the last. */
type Tally = { count: number; at: bigint };

export class WorkerProcess {
  readonly name: string;
  readonly #child: ChildProcess;
  /** The processes that run the actors (the CLI's worker processes, not its supervisor). */
  readonly #pids: number[] = [];
  readonly #processes: number;
  #pidWaiters: (() => void)[] = [];
  /** Counts by reporting process (its pid; "" where lines carry none: one process). */
  readonly #tallies = new Map<string, Tally>();
  #count = 0;
  #countAt = 0n;
  #countWaiters: Waiter[] = [];
  readonly #starts = new Map<number, bigint>();
  #startWaiters = new Map<number, (ns: bigint) => void>();
  #resultWaiters: ((result: Record<string, number>) => void)[] = [];
  readonly #tail: string[] = [];
  #exited: Promise<number | null>;
  #exitCode: number | null | undefined;

  private constructor(name: string, child: ChildProcess, processes: number) {
    this.name = name;
    this.#child = child;
    this.#processes = processes;
    this.#exited = new Promise((resolve) =>
      child.on("exit", (code, signal) => {
        this.#exitCode = code ?? (signal ? -1 : null);
        resolve(code);
      }),
    );
    createInterface({ input: child.stdout! }).on("line", (line) => this.#line(line));
    createInterface({ input: child.stderr! }).on("line", (line) => this.#keep(line));
  }

  /** `dramats MODULE --processes P --threads N --broker URL`, as an operator would start it. */
  static dramats(options: DramatsSpawnOptions): WorkerProcess {
    const processes = options.processes ?? 1;
    const args = [
      ...(options.nodeArgs ?? []),
      ...run(options.tree ?? OWN_TREE, "lib/cli/main"),
      run(options.tree ?? OWN_TREE, options.module ?? "bench/workers/dramats-actors").at(-1)!,
      "--processes", String(processes),
      "--threads", String(options.threads),
      ...(options.brokerUrl === undefined ? [] : ["--broker", options.brokerUrl]),
      // The bench freezes workers while it enqueues: the supervisor must not take that for a
      // blocked event loop. Metrics on any free port, so parallel runs never clash.
      "--heartbeat-timeout", "600000",
      "--metrics-port", "0",
      "--grace", "5000",
    ];
    // Several processes each count their own share, and report it with their pid (report.ts).
    const env = processes > 1 ? { ...options.env, BENCH_REPORT_OWN: "1" } : options.env;
    return WorkerProcess.#spawn(options.name, args, env, processes);
  }

  static bullmq(options: BullSpawnOptions): WorkerProcess {
    const args = [...(options.nodeArgs ?? []), ...run(OWN_TREE, "bench/workers/bullmq-worker")];
    return WorkerProcess.#spawn(options.name, args, {
      REDIS_URL: options.redisUrl,
      BENCH_QUEUE: options.queue,
      BENCH_PREFIX: options.prefix,
      BENCH_CONCURRENCY: String(options.concurrency),
      ...options.env,
    });
  }

  /** A bench script (path without extension) that takes commands on stdin and answers `BENCH result JSON`. */
  static script(options: SpawnOptions & { path: string }): WorkerProcess {
    return WorkerProcess.#spawn(options.name, [...(options.nodeArgs ?? []), ...run(options.tree ?? OWN_TREE, options.path)], options.env);
  }

  static #spawn(name: string, args: string[], env: Record<string, string> = {}, processes = 1): WorkerProcess {
    const child = spawn(process.execPath, args, {
      cwd: ROOT,
      env: { ...process.env, DRAMATS_LOG_LEVEL: process.env.DRAMATS_LOG_LEVEL ?? "warn", ...env },
      stdio: ["pipe", "pipe", "pipe"],
    });
    return new WorkerProcess(name, child, processes);
  }

  #keep(line: string): void {
    this.#tail.push(line);
    if (this.#tail.length > 20) this.#tail.shift();
  }

  #line(line: string): void {
    if (!line.startsWith("BENCH ")) return this.#keep(line);
    const [kind, a, b, c] = line.slice(6).split(" ");
    if (kind === "pid") {
      // A pid beyond the expected count is a replacement (the supervisor restarted a worker).
      this.#pids.push(Number(a));
      if (this.#pids.length > this.#processes) this.#pids.shift();
      if (this.#pids.length < this.#processes) return;
      for (const wake of this.#pidWaiters) wake();
      this.#pidWaiters = [];
    } else if (kind === "count") {
      this.#tallies.set(c ?? "", { count: Number(a), at: BigInt(b!) });
      // All processes together: the sum of their counts, done when the last of them was.
      this.#count = 0;
      for (const tally of this.#tallies.values()) {
        this.#count += tally.count;
        if (tally.at > this.#countAt) this.#countAt = tally.at;
      }
      const ready = this.#countWaiters.filter((w) => w.until <= this.#count);
      this.#countWaiters = this.#countWaiters.filter((w) => w.until > this.#count);
      for (const w of ready) w.resolve(this.#countAt);
    } else if (kind === "result") {
      const waiter = this.#resultWaiters.shift();
      waiter?.(JSON.parse(line.slice(6 + "result ".length)) as Record<string, number>);
    } else if (kind === "start") {
      const seq = Number(a);
      const at = BigInt(b!);
      const waiter = this.#startWaiters.get(seq);
      if (waiter) {
        this.#startWaiters.delete(seq);
        waiter(at);
      } else this.#starts.set(seq, at);
    }
  }

  #failure(what: string): Error {
    return new Error(`${this.name}: ${what} (exit code ${this.#exitCode}). Last output:\n${this.#tail.join("\n")}`);
  }

  /** Rejects if the process exits before `promise` settles, or after `timeoutMs`. */
  #guard<T>(promise: Promise<T>, what: string, timeoutMs: number): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    return Promise.race([
      promise,
      this.#exited.then(() => Promise.reject(this.#failure(`exited while waiting for ${what}`))),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(this.#failure(`no ${what} within ${timeoutMs} ms`)), timeoutMs);
      }),
    ]).finally(() => clearTimeout(timer));
  }

  /** Resolves with the pid of the (first) process running the actors, once all have loaded them. */
  async ready(timeoutMs = 60_000): Promise<number> {
    if (this.#pids.length < this.#processes) await this.#guard(new Promise<void>((resolve) => this.#pidWaiters.push(resolve)), "start-up", timeoutMs);
    return this.pid;
  }

  /** The process the bench started: the dramats supervisor, or the BullMQ worker itself. */
  get supervisorPid(): number {
    return this.#child.pid!;
  }

  /** The first process running the actors (with one process, the only one). */
  get pid(): number {
    return this.pids[0]!;
  }

  /** Every process running the actors. */
  get pids(): readonly number[] {
    if (this.#pids.length < this.#processes) throw new Error(`${this.name} has not reported its pids yet`);
    return this.#pids;
  }

  /** Messages counted so far by the no-op actor (in steps of REPORT_EVERY with one process), over all processes. */
  get count(): number {
    return this.#count;
  }

  /** Resolves with the worker's clock (ns) when its no-op actors have counted `n` messages. */
  waitCount(n: number, timeoutMs = 300_000): Promise<bigint> {
    if (this.#count >= n) return Promise.resolve(this.#countAt);
    return this.#guard(new Promise<bigint>((resolve) => this.#countWaiters.push({ until: n, resolve })), `count ${n}`, timeoutMs);
  }

  /** Resolves with the worker's clock (ns) when the message with `seq` started. */
  waitStart(seq: number, timeoutMs = 10_000): Promise<bigint> {
    const seen = this.#starts.get(seq);
    if (seen !== undefined) {
      this.#starts.delete(seq);
      return Promise.resolve(seen);
    }
    return this.#guard(new Promise<bigint>((resolve) => this.#startWaiters.set(seq, resolve)), `start of ${seq}`, timeoutMs);
  }

  /** Sends one command line to a script's stdin; resolves with its `BENCH result` answer. */
  command(text: string, timeoutMs = 300_000): Promise<Record<string, number>> {
    const answer = new Promise<Record<string, number>>((resolve) => this.#resultWaiters.push(resolve));
    this.#child.stdin!.write(`${text}\n`);
    return this.#guard(answer, `an answer to ${text}`, timeoutMs);
  }

  /** Freezes the worker processes (they keep their connections; nothing runs). */
  freeze(): void {
    for (const pid of this.pids) process.kill(pid, "SIGSTOP");
  }

  thaw(): void {
    for (const pid of this.pids) process.kill(pid, "SIGCONT");
  }

  /** Stops the worker gracefully (SIGTERM to the CLI), killing it if it lingers. */
  async close(timeoutMs = 10_000): Promise<void> {
    if (this.#exitCode !== undefined) return;
    for (const pid of this.#pids) {
      try {
        process.kill(pid, "SIGCONT");
      } catch {
        // already gone
      }
    }
    this.#child.stdin?.end();
    this.#child.kill("SIGTERM");
    const timer = setTimeout(() => this.#child.kill("SIGKILL"), timeoutMs);
    await this.#exited;
    clearTimeout(timer);
  }
}
