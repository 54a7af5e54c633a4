import { AsyncLocalStorage, createHook } from "node:async_hooks";
import { readFileSync } from "node:fs";
import { Worker as Thread } from "node:worker_threads";
import type { Broker } from "../broker.ts";
import { DramatsError, SkipMessage } from "../errors.ts";
import type { MessageProxy } from "../message-proxy.ts";
import { Middleware, type MiddlewareServices } from "../middleware.ts";

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
 * Catches poison messages that block the event loop. Once watching, the process records which
 * message it works for at every moment: the worker runs each message's whole processing (its
 * before-hooks, actor, after-hooks, logging and settle) inside this middleware's message scope,
 * and every callback that scope schedules (promise continuations, timers, I/O) carries the
 * message along (AsyncLocalStorage); an async hook writes the message of each callback as it
 * starts to shared memory (a compare per callback, a few stores when the message changes). A
 * watcher thread mirrors it into a file, which the supervisor reads when it kills this process
 * for missed heartbeats. The supervisor then tells every worker process, and this middleware
 * dead-letters that message when the broker redelivers it, instead of running it again.
 *
 * The watcher (a thread, about 11 MB) and the recording (about 0.4 µs per promise continuation)
 * start only once the fleet has seen a blocked process, so healthy fleets pay nothing; a poison
 * message then costs one more kill before it is named. Blocking outside any message's
 * processing (a broker's own callbacks, the worker's fetch loop) kills the process but names no
 * message. A message that blocks in a `beforeNack` or `afterNack` hook blocks its dead-lettering
 * too: the chain's hooks run for every dead letter.
 */
export class BlockWatch extends Middleware {
  readonly #file: string | undefined;
  readonly #interval: number;
  #running: Int32Array | undefined;
  #id: Uint8Array | undefined;
  /** The message id last written to shared memory ("" for none). */
  #shown = "";
  readonly #blocked = new Set<string>();
  readonly #storage = new AsyncLocalStorage<string>();
  override readonly provides: Partial<MiddlewareServices> = { messageScope: this.#scope() };

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

  /** Starts recording which message the process works for (idempotent). */
  watch(): void {
    if (this.#running !== undefined || this.#file === undefined) return;
    const shared = new SharedArrayBuffer(4 + ID_BYTES);
    this.#running = new Int32Array(shared, 0, 1);
    this.#id = new Uint8Array(shared, 4, ID_BYTES);
    const storage = this.#storage;
    // Callbacks can run nested in others (AsyncResource.runInAsyncScope): each restores what
    // was shown around it.
    const around: string[] = [];
    createHook({
      before: () => {
        around.push(this.#shown);
        this.#show(storage.getStore());
      },
      after: () => this.#show(around.pop()),
    }).enable();
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

  #scope(): MiddlewareServices["messageScope"] {
    const watch = this;
    return {
      get active() {
        return watch.#running !== undefined;
      },
      run: (proxy, call) => this.#within(proxy.messageId, () => this.#storage.run(proxy.messageId, call)),
      outside: (call) => this.#within(undefined, () => this.#storage.exit(call)),
    };
  }

  /** Shows `id` while `call` runs synchronously, then what was shown around it. */
  #within<T>(id: string | undefined, call: () => T): T {
    const outer = this.#storage.getStore();
    this.#show(id);
    try {
      return call();
    } finally {
      this.#show(outer);
    }
  }

  #show(id: string | undefined): void {
    const running = this.#running;
    const view = this.#id;
    if (running === undefined || view === undefined) return;
    const now = id ?? "";
    if (now === this.#shown) return;
    this.#shown = now;
    if (now === "") {
      Atomics.store(running, 0, 0);
      return;
    }
    // The watcher reads the id only while the flag is set: clear it while the bytes change.
    Atomics.store(running, 0, 0);
    const length = Math.min(now.length, ID_BYTES);
    for (let i = 0; i < length; i++) view[i] = now.charCodeAt(i);
    view.fill(32, length);
    Atomics.store(running, 0, 1);
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
