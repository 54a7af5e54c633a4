import { DramatsError, InvalidOptions, MiddlewareError } from "./errors.ts";
import type { Actor } from "./actor.ts";
import type { Broker } from "./broker.ts";
import type { Logger } from "./logging.ts";
import type { MessageProxy } from "./message-proxy.ts";
import { delayQueueName } from "./queue-names.ts";
import { holdMiddleware, unholdMiddleware } from "./middleware-holders.ts";
import { HOOK_NAMES, type HookName, type Middleware, type MiddlewareHooks, type MiddlewareServices, type ProcessWrapper } from "./middleware.ts";

type HookFn = (...args: never[]) => unknown;

/** Option names every actor accepts, whatever the middleware. */
export const CORE_ACTOR_OPTIONS: ReadonlySet<string> = new Set(["actorName", "queueName", "priority", "broker", "raisableLimits"]);

/**
 * The middleware chain a broker hosts: the ordered list, one dispatch array per hook (a hook
 * nobody implements costs nothing per message), Dramatiq's order and error policy, the process
 * wrappers and the services middleware provide to the core.
 */
export abstract class MiddlewareHost {
  /** Where the broker and its middleware log. */
  readonly logger: Logger;
  readonly #middleware: Middleware[] = [];
  readonly #hooks = new Map<HookName, HookFn[]>();
  #wrappers: ProcessWrapper[] = [];
  readonly #actorOptions = new Set<string>(CORE_ACTOR_OPTIONS);

  constructor(logger: Logger) {
    this.logger = logger;
  }

  /** The middleware chain, in order. */
  get middleware(): readonly Middleware[] {
    return this.#middleware;
  }

  /** Union of the actor options every middleware accepts, plus the core ones. */
  get actorOptions(): ReadonlySet<string> {
    return this.#actorOptions;
  }

  /**
   * Adds a middleware at the end of the chain, or just before/after an instance of a class.
   * Declare hooks are replayed for actors and queues declared earlier.
   */
  addMiddleware(middleware: Middleware, placement: { before?: abstract new (...a: never[]) => Middleware; after?: abstract new (...a: never[]) => Middleware } = {}): void {
    if (placement.before && placement.after) throw new InvalidOptions("addMiddleware takes `before` or `after`, not both");
    const ref = placement.before ?? placement.after;
    let index = this.#middleware.length;
    if (ref) {
      const at = this.#middleware.findIndex((m) => m instanceof ref);
      if (at < 0) throw new InvalidOptions(`addMiddleware: no ${ref.name} in the chain to place ${middleware.name} next to`);
      index = placement.before ? at : at + 1;
    }
    this.#insert(index, middleware);
  }

  #insert(index: number, middleware: Middleware): void {
    if (this.#middleware.some((m) => m.constructor === middleware.constructor)) {
      this.logger.warn({ middleware: middleware.name }, "Middleware of this type is already in the chain");
    }
    this.#middleware.splice(index, 0, middleware);
    holdMiddleware(middleware, this);
    for (const name of middleware.actorOptions) this.#actorOptions.add(name);
    this.#rebuildHooks();
    this.replayDeclarations(middleware as Partial<MiddlewareHooks>);
  }

  /**
   * Takes the first instance of `cls` (or this very instance) out of the chain, before workers
   * start: to drop a default (`Prometheus` in a script, say) or to put a differently configured
   * one in its place. The middleware is not closed; it is the caller's again.
   * @returns the middleware taken out, or undefined when the chain has none.
   */
  removeMiddleware(which: Middleware | (abstract new (...a: never[]) => Middleware)): Middleware | undefined {
    const at = this.#middleware.findIndex((m) => (typeof which === "function" ? m instanceof which : m === which));
    if (at < 0) return undefined;
    const [removed] = this.#middleware.splice(at, 1);
    unholdMiddleware(removed!, this);
    this.#actorOptions.clear();
    for (const name of CORE_ACTOR_OPTIONS) this.#actorOptions.add(name);
    for (const m of this.#middleware) for (const name of m.actorOptions) this.#actorOptions.add(name);
    this.#rebuildHooks();
    return removed;
  }

  /**
   * Puts `middleware` where the first instance of `cls` is (`new Scheduler({ store })` in place of
   * the default one, on RabbitMQ). Declare hooks are replayed for it, as for `addMiddleware`.
   * @throws InvalidOptions when the chain has no `cls`.
   * @returns the middleware replaced (not closed).
   */
  replaceMiddleware(cls: abstract new (...a: never[]) => Middleware, middleware: Middleware): Middleware {
    const at = this.#middleware.findIndex((m) => m instanceof cls);
    if (at < 0) throw new InvalidOptions(`replaceMiddleware: no ${cls.name} in the chain to replace with ${middleware.name}`);
    const old = this.#middleware[at]!;
    this.removeMiddleware(old);
    this.#insert(at, middleware);
    return old;
  }

  /** Replays the declare hooks of a middleware added late, for what was declared before it. */
  protected abstract replayDeclarations(middleware: Partial<MiddlewareHooks>): void;

  #rebuildHooks(): void {
    this.#hooks.clear();
    for (const hook of HOOK_NAMES) {
      const fns: HookFn[] = [];
      const ordered = hook.startsWith("after") ? [...this.#middleware].reverse() : this.#middleware;
      for (const m of ordered) {
        const fn = (m as Partial<MiddlewareHooks>)[hook];
        if (typeof fn === "function") fns.push((fn as HookFn).bind(m));
      }
      if (fns.length > 0) this.#hooks.set(hook, fns);
    }
    this.#wrappers = this.#middleware.filter(
      (m): m is Middleware & ProcessWrapper => typeof (m as Partial<ProcessWrapper>).wrapProcessMessage === "function",
    );
  }

  /** Runs `call` (the actor) inside every middleware's `wrapProcessMessage`, first middleware outermost. */
  wrapProcess(proxy: MessageProxy, call: () => unknown): unknown {
    return this.#wrapFrom(this.#wrappers, 0, proxy, call);
  }

  // One closure per wrapper, made only when that wrapper is reached.
  #wrapFrom(wrappers: ProcessWrapper[], index: number, proxy: MessageProxy, call: () => unknown): unknown {
    const wrapper = wrappers[index];
    if (wrapper === undefined) return call();
    const next = index + 1 === wrappers.length ? call : () => this.#wrapFrom(wrappers, index + 1, proxy, call);
    // Broker is the only subclass: hooks and wrappers receive the broker itself.
    return wrapper.wrapProcessMessage(this as unknown as Broker, proxy, next);
  }

  /** The first middleware that is an instance of `cls`, if any. */
  getMiddleware<T extends Middleware>(cls: abstract new (...args: never[]) => T): T | undefined {
    return this.#middleware.find((m): m is T => m instanceof cls);
  }

  /** The first middleware's service of that name (`results`, `cancellation`, ...), if any provides it. */
  service<K extends keyof MiddlewareServices>(name: K): MiddlewareServices[K] | undefined {
    for (const m of this.#middleware) {
      const provided = m.provides[name];
      if (provided !== undefined) return provided as MiddlewareServices[K];
    }
    return undefined;
  }

  /** True when at least one middleware implements `hook` (lets callers skip building arguments). */
  hasHook(hook: HookName): boolean {
    return this.#hooks.has(hook);
  }

  /**
   * Runs a hook over the chain. `before*` hooks run in order and let a MiddlewareError
   * (such as SkipMessage) propagate; everything else, and every error in `after*` hooks,
   * is logged and swallowed so that a broken middleware never fails a job.
   */
  emit<K extends HookName>(hook: K, ...args: Parameters<MiddlewareHooks[K]>): void | Promise<void> {
    const fns = this.#hooks.get(hook);
    if (fns === undefined) return;
    // Stay synchronous while hooks are: most run per message and return nothing.
    for (let i = 0; i < fns.length; i++) {
      let out: unknown;
      try {
        out = (fns[i] as (...a: unknown[]) => unknown)(...args);
      } catch (error) {
        this.#hookFailed(hook, error);
        continue;
      }
      if (out !== undefined && typeof (out as Promise<void>).then === "function") {
        return this.#emitAsync(hook, fns, i, out as Promise<void>, args);
      }
    }
  }

  async #emitAsync(hook: HookName, fns: HookFn[], index: number, pending: Promise<void>, args: unknown[]): Promise<void> {
    try {
      await pending;
    } catch (error) {
      this.#hookFailed(hook, error);
    }
    for (let i = index + 1; i < fns.length; i++) {
      try {
        // Await only what is awaitable: a synchronous hook costs no extra turn.
        const out = (fns[i] as (...a: unknown[]) => unknown)(...args);
        if (out !== undefined && typeof (out as Promise<void>).then === "function") await out;
      } catch (error) {
        this.#hookFailed(hook, error);
      }
    }
  }

  /** The chain's error policy: a MiddlewareError in a before-hook propagates; the rest is logged. */
  #hookFailed(hook: HookName, error: unknown): void {
    if (error instanceof MiddlewareError && hook.startsWith("before")) throw error;
    this.logger.error({ err: error, hook }, "Middleware hook failed; continuing");
  }

  /** Synchronous emission for the declare hooks (actors are declared at module load). */
  protected emitSync<K extends HookName>(hook: K, ...args: Parameters<MiddlewareHooks[K]>): void {
    const fns = this.#hooks.get(hook);
    if (fns === undefined) return;
    for (const fn of fns) {
      try {
        (fn as (...a: unknown[]) => unknown)(...args);
      } catch (error) {
        if (hook.startsWith("before") && error instanceof DramatsError) throw error;
        this.logger.error({ err: error, hook }, "Middleware hook failed; continuing");
      }
    }
  }
}

/** Replays, for a middleware added late, the declare hooks of the actors and queues declared before it. */
export function replayDeclared(broker: Broker, replay: Partial<MiddlewareHooks>, actors: Iterable<Actor>, queues: Iterable<string>): void {
  for (const actor of actors) {
    replay.beforeDeclareActor?.(broker, actor);
    replay.afterDeclareActor?.(broker, actor);
  }
  for (const queue of queues) {
    replay.beforeDeclareQueue?.(broker, queue);
    replay.afterDeclareQueue?.(broker, queue);
    replay.afterDeclareDelayQueue?.(broker, delayQueueName(queue));
  }
}
