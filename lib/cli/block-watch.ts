import { readFileSync } from "node:fs";
import { Worker as Thread } from "node:worker_threads";
import type { Broker } from "../broker.ts";
import { DramatsError, SkipMessage } from "../errors.ts";
import type { MessageProxy } from "../message-proxy.ts";
import { Middleware, type ProcessWrapper } from "../middleware.ts";

/** The message blocked a worker process's event loop, which the supervisor then killed. */
export class EventLoopBlocked extends DramatsError {
  override readonly code = "DRAMATS_ERR_EVENT_LOOP_BLOCKED";
}

/** Room for a message id (a UUID is 36 characters). */
const ID_BYTES = 64;

/**
 * A tiny watcher thread: it copies "which message runs synchronously on the main thread" from
 * shared memory to a file whenever that changes, and keeps doing so while the main thread's
 * event loop is blocked. Plain CommonJS, evaluated as is (no loader needed).
 */
const WATCHER = `
const { workerData } = require("node:worker_threads");
const { writeFileSync } = require("node:fs");
const running = new Int32Array(workerData.shared, 0, 1);
const id = new Uint8Array(workerData.shared, 4, ${ID_BYTES});
let last = "";
setInterval(() => {
  const now = Atomics.load(running, 0) === 1 ? Buffer.from(id).toString("latin1").trim() : "";
  if (now === last) return;
  last = now;
  try { writeFileSync(workerData.file, now); } catch {}
}, workerData.interval);
`;

/**
 * Catches poison messages that block the event loop. While an actor's synchronous part runs,
 * its message id sits in shared memory (a few stores per message, no system call); a watcher
 * thread mirrors it into a file, which the supervisor reads when it kills this process for
 * missed heartbeats. The supervisor then tells every worker process, and this middleware
 * dead-letters that message when the broker redelivers it, instead of running it again.
 *
 * The watcher (a thread, about 11 MB) starts only once the fleet has seen a blocked process,
 * so healthy fleets pay nothing; a poison message then costs one more kill before it is named.
 * A process blocked by the continuation of an async actor (after an await) is still killed and
 * replaced, but its message cannot be named, so it is redelivered.
 */
export class BlockWatch extends Middleware implements ProcessWrapper {
  readonly #file: string | undefined;
  readonly #interval: number;
  #running: Int32Array | undefined;
  #id: Uint8Array | undefined;
  readonly #blocked = new Set<string>();

  /**
   * @param file where the watcher thread mirrors the running message; undefined disables it.
   * @param interval how often the watcher looks (ms).
   */
  constructor(file: string | undefined, blocked: Iterable<string> = [], interval = 50) {
    super();
    this.#file = file;
    this.#interval = interval;
    for (const id of blocked) this.#blocked.add(id);
  }

  /** Starts recording which message runs synchronously (idempotent). */
  watch(): void {
    if (this.#running !== undefined || this.#file === undefined) return;
    const shared = new SharedArrayBuffer(4 + ID_BYTES);
    this.#running = new Int32Array(shared, 0, 1);
    this.#id = new Uint8Array(shared, 4, ID_BYTES);
    // No execArgv: the watcher needs no TypeScript loader.
    const watcher = new Thread(WATCHER, { eval: true, execArgv: [], workerData: { shared, file: this.#file, interval: this.#interval } });
    watcher.on("error", () => {}); // Losing the watcher only loses the poison-message guard.
    watcher.unref();
  }

  /** Marks messages that blocked a process: they are dead-lettered when they come back. */
  block(ids: Iterable<string>): void {
    for (const id of ids) this.#blocked.add(id);
  }

  beforeProcessMessage(_broker: Broker, proxy: MessageProxy): void {
    if (!this.#blocked.has(proxy.messageId)) return;
    const error = new EventLoopBlocked(
      `Message ${proxy.messageId} (${proxy.actorName}) blocked the event loop of a worker process, which was killed; not running it again`,
    );
    proxy.fail(error);
    throw new SkipMessage(error.message);
  }

  wrapProcessMessage(_broker: Broker, proxy: MessageProxy, call: () => unknown): unknown {
    const running = this.#running;
    const view = this.#id;
    if (running === undefined || view === undefined) return call();
    const id = proxy.messageId;
    const length = Math.min(id.length, ID_BYTES);
    for (let i = 0; i < length; i++) view[i] = id.charCodeAt(i);
    view.fill(32, length);
    Atomics.store(running, 0, 1);
    try {
      return call();
    } finally {
      // The synchronous part is over: whatever blocks later is not this call's prefix.
      Atomics.store(running, 0, 0);
    }
  }
}

/** The message id a process's watcher recorded as running synchronously, or undefined. */
export function readRunning(file: string): string | undefined {
  try {
    return readFileSync(file, "latin1").trim() || undefined;
  } catch {
    return undefined;
  }
}
