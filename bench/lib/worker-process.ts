// A worker process the bench drives: a `dramats` CLI (supervisor + one worker process) or a
// BullMQ worker. It reads the worker's `BENCH ...` lines (bench/workers/report.ts), knows
// the pid of the process that runs the actors, and can freeze it (SIGSTOP) while the bench
// enqueues, so that enqueue and drain are timed apart without restarting the worker.
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
  brokerUrl: string;
  /** The CLI's --threads (the worker's concurrency). */
  threads: number;
}

export interface BullSpawnOptions extends SpawnOptions {
  redisUrl: string;
  queue: string;
  prefix: string;
  concurrency: number;
}

type Waiter = { until: number; resolve: (ns: bigint) => void };

export class WorkerProcess {
  readonly name: string;
  readonly #child: ChildProcess;
  /** The process that runs the actors (the CLI's worker process, not its supervisor). */
  #pid: number | undefined;
  #pidWaiters: ((pid: number) => void)[] = [];
  #count = 0;
  #countAt = 0n;
  #countWaiters: Waiter[] = [];
  readonly #starts = new Map<number, bigint>();
  #startWaiters = new Map<number, (ns: bigint) => void>();
  #resultWaiters: ((result: Record<string, number>) => void)[] = [];
  readonly #tail: string[] = [];
  #exited: Promise<number | null>;
  #exitCode: number | null | undefined;

  private constructor(name: string, child: ChildProcess) {
    this.name = name;
    this.#child = child;
    this.#exited = new Promise((resolve) =>
      child.on("exit", (code, signal) => {
        this.#exitCode = code ?? (signal ? -1 : null);
        resolve(code);
      }),
    );
    createInterface({ input: child.stdout! }).on("line", (line) => this.#line(line));
    createInterface({ input: child.stderr! }).on("line", (line) => this.#keep(line));
  }

  /** `dramats MODULE --processes 1 --threads N --broker URL`, as an operator would start it. */
  static dramats(options: DramatsSpawnOptions): WorkerProcess {
    const args = [
      ...(options.nodeArgs ?? []),
      ...run(options.tree ?? OWN_TREE, "lib/cli/main"),
      run(options.tree ?? OWN_TREE, "bench/workers/dramats-actors").at(-1)!,
      "--processes", "1",
      "--threads", String(options.threads),
      "--broker", options.brokerUrl,
      // The bench freezes workers while it enqueues: the supervisor must not take that for a
      // blocked event loop. Metrics on any free port, so parallel runs never clash.
      "--heartbeat-timeout", "600000",
      "--metrics-port", "0",
      "--grace", "5000",
    ];
    return WorkerProcess.#spawn(options.name, args, options.env);
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

  static #spawn(name: string, args: string[], env: Record<string, string> = {}): WorkerProcess {
    const child = spawn(process.execPath, args, {
      cwd: ROOT,
      env: { ...process.env, DRAMATS_LOG_LEVEL: process.env.DRAMATS_LOG_LEVEL ?? "warn", ...env },
      stdio: ["pipe", "pipe", "pipe"],
    });
    return new WorkerProcess(name, child);
  }

  #keep(line: string): void {
    this.#tail.push(line);
    if (this.#tail.length > 20) this.#tail.shift();
  }

  #line(line: string): void {
    if (!line.startsWith("BENCH ")) return this.#keep(line);
    const [kind, a, b] = line.slice(6).split(" ");
    if (kind === "pid") {
      this.#pid = Number(a);
      for (const wake of this.#pidWaiters) wake(this.#pid);
      this.#pidWaiters = [];
    } else if (kind === "count") {
      this.#count = Number(a);
      this.#countAt = BigInt(b!);
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

  /** Resolves with the pid of the process running the actors, once it has loaded them. */
  ready(timeoutMs = 60_000): Promise<number> {
    if (this.#pid !== undefined) return Promise.resolve(this.#pid);
    return this.#guard(new Promise<number>((resolve) => this.#pidWaiters.push(resolve)), "start-up", timeoutMs);
  }

  get pid(): number {
    if (this.#pid === undefined) throw new Error(`${this.name} has not reported its pid yet`);
    return this.#pid;
  }

  /** Every process running the actors. */
  get pids(): readonly number[] {
    return [this.pid];
  }

  /** Messages counted so far by the no-op actor (in steps of REPORT_EVERY). */
  get count(): number {
    return this.#count;
  }

  /** Resolves with the worker's clock (ns) when its no-op actor has counted `n` messages. */
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

  /** Freezes the worker process (it keeps its connections; nothing runs). */
  freeze(): void {
    process.kill(this.pid, "SIGSTOP");
  }

  thaw(): void {
    process.kill(this.pid, "SIGCONT");
  }

  /** Stops the worker gracefully (SIGTERM to the CLI), killing it if it lingers. */
  async close(timeoutMs = 10_000): Promise<void> {
    if (this.#exitCode !== undefined) return;
    if (this.#pid !== undefined) {
      try {
        process.kill(this.#pid, "SIGCONT");
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
