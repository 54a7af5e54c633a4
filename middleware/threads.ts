import type { Actor } from "../lib/actor.ts";
import type { Broker } from "../lib/broker.ts";
import { InvalidOptions } from "../lib/errors.ts";
import { getLogger } from "../lib/logging.ts";
import type { MessageProxy } from "../lib/message-proxy.ts";
import type { ThreadPool } from "../lib/threads/pool.ts";
import { Middleware, type ProcessWrapper } from "./middleware.ts";

declare module "../lib/actor.ts" {
  interface ActorOptions {
    /**
     * Run on the worker process's thread pool (worker_threads, via piscina) instead of the event
     * loop: for CPU-bound work. Arguments and results must be JSON values; a time limit
     * terminates the thread. Without a pool (outside the `dramats` CLI) the actor runs inline.
     * @defaultValue false
     */
    threaded?: boolean;
  }
}

/** Options of {@link Threads}. */
export interface ThreadsOptions {
  /** The pool threaded actors run on; the CLI sets one per worker process. */
  pool?: ThreadPool;
}

type ErrorClass = abstract new (...args: never[]) => unknown;

/**
 * Sends runs of `threaded` actors to a thread pool. The pool's threads import the same
 * modules and look the actor up by name; the run's AbortSignal (time limit, shutdown
 * notification) terminates its thread.
 *
 * A threaded message waits for a free thread in `beforeProcessMessage`, so place this
 * middleware before TimeLimit (the default chain does): the wait for a thread must not eat
 * into the actor's time limit.
 */
export class Threads extends Middleware implements ProcessWrapper {
  override readonly actorOptions = new Set(["threaded"]);
  #pool: ThreadPool | undefined;
  #warnedInline = false;
  /** Threads taken by messages between their before- and after-hooks. */
  #busy = 0;
  #waiting: (() => void)[] = [];
  readonly #holding = new WeakSet<MessageProxy>();

  constructor(options: ThreadsOptions = {}) {
    super();
    this.#pool = options.pool;
  }

  /** The pool threaded actors run on; undefined until one is set (the CLI sets one per worker process). */
  get pool(): ThreadPool | undefined {
    return this.#pool;
  }

  /** Sets (or, with undefined, removes) the pool threaded actors run on. */
  usePool(pool: ThreadPool | undefined): void {
    this.#pool = pool;
  }

  /** {@inheritDoc MiddlewareHooks.beforeDeclareActor} */
  beforeDeclareActor(_broker: Broker, actor: Actor): void {
    const threaded = actor.options.threaded;
    if (threaded !== undefined && typeof threaded !== "boolean") {
      throw new InvalidOptions(`Actor ${JSON.stringify(actor.actorName)}: threaded must be a boolean, got ${JSON.stringify(threaded)}`);
    }
  }

  /**
   * Waits for a free pool thread (a threaded message holds one until its after-hook).
   * Returns a promise only when it must wait, so the worker's hot path stays synchronous.
   */
  beforeProcessMessage(broker: Broker, proxy: MessageProxy): void | Promise<void> {
    const pool = this.#pool;
    if (pool === undefined || broker.findActor(proxy.actorName)?.options.threaded !== true) return;
    this.#holding.add(proxy);
    if (this.#busy < pool.size) {
      this.#busy++;
      return;
    }
    return new Promise<void>((resolve) => this.#waiting.push(resolve)); // Handed a thread by #release.
  }

  /** {@inheritDoc MiddlewareHooks.afterProcessMessage} */
  afterProcessMessage(_broker: Broker, proxy: MessageProxy): void {
    this.#release(proxy);
  }

  /** {@inheritDoc MiddlewareHooks.afterSkipMessage} */
  afterSkipMessage(_broker: Broker, proxy: MessageProxy): void {
    this.#release(proxy);
  }

  #release(proxy: MessageProxy): void {
    if (!this.#holding.delete(proxy)) return;
    const next = this.#waiting.shift();
    // Hand the thread straight to the next message, so no newcomer can take it in between.
    if (next) next();
    else this.#busy--;
  }

  /** {@inheritDoc ProcessWrapper.wrapProcessMessage} */
  wrapProcessMessage(broker: Broker, proxy: MessageProxy, call: () => unknown): unknown {
    const actor = broker.findActor(proxy.actorName);
    if (actor?.options.threaded !== true) return call();
    const pool = this.#pool;
    if (pool === undefined) {
      if (!this.#warnedInline) {
        this.#warnedInline = true;
        getLogger("middleware.threads").warn({ actor: actor.actorName }, "No thread pool set: threaded actors run on the event loop");
      }
      return call();
    }
    const message = proxy.message;
    // As the worker does for inline actors: keyword arguments arrive as one trailing object.
    const args = Object.keys(message.kwargs).length > 0 ? [...message.args, message.kwargs] : message.args;
    const throws = actor.options.throws as ErrorClass | ErrorClass[] | undefined;
    return pool.run(
      { actorName: actor.actorName, args, message: message.asData() },
      { signal: proxy.signal, errorClasses: throws === undefined ? [] : Array.isArray(throws) ? throws : [throws] },
    );
  }
}
