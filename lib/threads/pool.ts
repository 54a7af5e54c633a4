import { availableParallelism } from "node:os";
import { extname } from "node:path";
import { fileURLToPath } from "node:url";
import { Piscina } from "piscina";
import { getLogger } from "../logging.ts";
import type { ThreadData } from "./thread-entry.ts";
import { tsxEntry } from "./tsx.ts";
import { deserializeError, type ThreadOutcome, type ThreadTask, type WarmUpTask } from "./wire.ts";

export interface ThreadPoolOptions {
  /** URLs (or package names) of the modules that declare the actors; each thread imports them. */
  modules: readonly string[];
  /** Threads in the pool. @defaultValue the number of cores */
  size?: number;
  /** Node flags for the threads (e.g. tsx's loader). @defaultValue the process's execArgv */
  execArgv?: string[];
  /** How long `close()` waits for running tasks before terminating threads (ms). @defaultValue 30000 */
  closeTimeout?: number;
}

export interface RunOptions {
  /** Aborting terminates the task's thread; the pool starts a fresh one. */
  signal?: AbortSignal;
  /** Error classes to rebuild thread errors as, so `instanceof` still works (an actor's `throws`). */
  errorClasses?: readonly (abstract new (...args: never[]) => unknown)[];
}

// The source runs as .ts (through tsx) and the build as .js: use the sibling of this file's kind.
const ENTRY = fileURLToPath(new URL(`./thread-entry${extname(fileURLToPath(import.meta.url))}`, import.meta.url));

/** Node versions from which tsx's `--import` registers its loader in worker threads too (as tsx itself decides). */
const TSX_PER_THREAD_SINCE: readonly [number, number, number][] = [[22, 22, 3], [24, 11, 1], [25, 1, 0], [26, 0, 0]];

function tsxRegistersInThreads(version: string = process.versions.node): boolean {
  const [major, minor, patch] = version.split(".").map(Number) as [number, number, number];
  return TSX_PER_THREAD_SINCE.some(([M, m, p]) => major === M ? minor > m || (minor === m && patch >= p) : false) || major > 26;
}

/**
 * Heap flags of the process (sizes, the GC tuning and V8 thread pool the CLI gives worker processes). Node
 * refuses them in a thread's execArgv (ERR_WORKER_INVALID_EXEC_ARGV); V8 flags hold for the whole
 * process anyway, and threads size their heaps through resourceLimits.
 */
const PROCESS_HEAP_FLAG = /^--(max[-_](semi|old)[-_]space[-_]size|heap[-_]growing[-_]percent|gc[-_]memory[-_]reducer[-_]start[-_]delay[-_]ms|v8[-_]pool[-_]size)(=|$)/;

/**
 * Flags for pool threads: the process's, without its heap flags. On older Node lines tsx only
 * hooks the main thread's ES module loader, so threads that must import .ts files register it
 * themselves first.
 */
export function threadExecArgv(modules: readonly string[], execArgv: readonly string[]): string[] {
  const inherited = execArgv.filter((arg) => !PROCESS_HEAP_FLAG.test(arg));
  const needsTs = ENTRY.endsWith(".ts") || modules.some((m) => /\.[cm]?tsx?$/.test(m));
  if (!needsTs || tsxRegistersInThreads()) return inherited;
  const api = tsxEntry("./esm/api");
  if (api === undefined) return inherited; // Importing will fail with a clear "Unknown file extension" error.
  return [...inherited, "--import", `data:text/javascript,import{register}from${JSON.stringify(api)};register();`];
}

/**
 * A fixed-size piscina pool that runs `threaded` actors by name. Each thread imports the
 * user's modules once; arguments and results cross as JSON values and errors keep their
 * class, message, stack and fields.
 */
export class ThreadPool {
  readonly size: number;
  readonly #piscina: Piscina<ThreadTask | WarmUpTask, ThreadOutcome>;

  constructor(options: ThreadPoolOptions) {
    const size = options.size ?? availableParallelism();
    if (!Number.isInteger(size) || size < 1) throw new RangeError(`ThreadPool option size must be a positive integer, got ${size}`);
    this.size = size;
    const workerData: ThreadData = { modules: [...options.modules] };
    this.#piscina = new Piscina<ThreadTask | WarmUpTask, ThreadOutcome>({
      filename: ENTRY,
      minThreads: size,
      maxThreads: size,
      // Actors may await I/O; 'disabled' keeps an idle thread's event loop turning.
      atomics: "disabled",
      workerData,
      execArgv: threadExecArgv(options.modules, options.execArgv ?? process.execArgv),
      closeTimeout: options.closeTimeout ?? 30_000,
    });
    // Without a listener, a thread that fails to start is an uncaught exception in this process.
    this.#piscina.on("error", (error: unknown) => {
      getLogger("threads").error({ err: error }, "A pool thread failed; piscina replaces it");
    });
  }

  /** Threads currently alive. */
  get threads(): number {
    return this.#piscina.threads.length;
  }

  /** Tasks completed since the pool started. */
  get completed(): number {
    return this.#piscina.completed;
  }

  /**
   * Runs the actor named in `task` on a thread; resolves with its result.
   * @throws the actor's error, rebuilt; or `signal.reason` when aborted.
   */
  async run(task: ThreadTask, options: RunOptions = {}): Promise<unknown> {
    const { signal } = options;
    let outcome: ThreadOutcome;
    try {
      outcome = await this.#piscina.run(task, signal ? { signal } : {});
    } catch (error) {
      // Piscina's AbortError hides the reason (a TimeLimitExceeded); surface the reason itself.
      if (signal?.aborted) throw signal.reason;
      throw error;
    }
    if (outcome.ok) return outcome.result;
    throw deserializeError(outcome.error, options.errorClasses);
  }

  /**
   * Resolves once every thread has imported the modules (one task per thread), so the first
   * messages' time limits are not spent on thread start-up.
   * @throws the import error, rebuilt, when a thread cannot load the modules.
   */
  async warmUp(): Promise<void> {
    const outcomes = await Promise.all(Array.from({ length: this.size }, () => this.#piscina.run({ warmUp: true })));
    for (const outcome of outcomes) if (!outcome.ok) throw deserializeError(outcome.error);
  }

  /** Waits for running tasks (up to `closeTimeout`), then stops the threads. */
  close(): Promise<void> {
    return this.#piscina.close();
  }

  /** Stops the threads now; running tasks reject. */
  destroy(): Promise<void> {
    return this.#piscina.destroy();
  }
}
