import type { Actor } from "./actor.ts";
import { getEncoder, type Encoder } from "./encoder.ts";
import { ActorNotFound, DramatsError, InvalidOptions, MiddlewareError, QueueNotFound } from "./errors.ts";
import type { KeyValueStore } from "./key-value-store.ts";
import { getLogger, type Logger } from "./logging.ts";
import { holdMiddleware, releaseMiddleware } from "./middleware-holders.ts";
import { bindBroker, Message } from "./message.ts";
import { assertQueueName, delayQueueName } from "./queue-names.ts";
import type { MessageProxy } from "./message-proxy.ts";
import { HOOK_NAMES, type HookName, type Middleware, type MiddlewareHooks, type ProcessWrapper } from "../middleware/middleware.ts";
import { defaultMiddleware } from "../middleware/defaults.ts";

/**
 * One message handed out by a consumer: its raw body plus whatever handle the broker needs
 * to settle it. Brokers extend this with their own fields.
 */
export interface Delivery {
  readonly body: string | Buffer;
  /** True when the broker knows the message was delivered before. */
  readonly redelivered?: boolean;
}

/** A dead-lettered message as kept in `<queue>.XQ`. */
export interface DeadLetter {
  /** The message id when the body could be decoded (or the broker's id for raw bodies). */
  readonly id: string;
  /** The message exactly as it was received. */
  readonly body: string;
  /** Why it was dead-lettered (`TimeLimitExceeded: ...`, `DecodeError: ...`). */
  readonly reason: string;
  /** Epoch ms at which it was dead-lettered. */
  readonly deadAt: number;
}

/** How many messages a queue holds, by state. */
export interface QueueDepths {
  ready: number;
  delayed: number;
  inFlight: number;
  dead: number;
}

export interface EnqueueOptions {
  /** Milliseconds before the message becomes visible to workers. @defaultValue 0 */
  delay?: number;
}

export interface JoinOptions {
  /** Give up after this many ms with QueueJoinTimeout. @defaultValue wait forever */
  timeout?: number;
  /**
   * Reject as soon as a message of this queue is dead-lettered during the join, with the
   * actor's own error where the broker has it. @defaultValue true
   */
  failFast?: boolean;
}

export interface ConsumeOptions {
  /** How many unacknowledged deliveries this consumer may hold. */
  prefetch: number;
}

/** What a broker needs to know to write a message. */
export interface WriteOptions {
  delay: number;
  /** Lower runs first. */
  priority: number;
}

/** One message of a bulk write: the message, its encoded body and where it goes. */
export interface MessageWrite {
  readonly message: Message;
  readonly body: string;
  readonly options: WriteOptions;
}

/**
 * Reads one queue. `fetch` resolves with up to `max` ready messages, waiting at most
 * `timeout` ms (it must not busy-poll); delayed messages stay in the broker until due.
 */
export abstract class Consumer {
  abstract fetch(max: number, timeout: number): Promise<Delivery[]>;
  /** The message is done: forget it. */
  abstract ack(delivery: Delivery): Promise<void>;
  /** The message failed for good: move it to `<queue>.XQ` with `reason`. */
  abstract nack(delivery: Delivery, reason: string, error?: unknown): Promise<void>;
  /**
   * Enqueues `message` (the next attempt) after `delay` ms and acks `delivery`, as one step
   * where the broker allows it, so a crash between the two neither loses nor duplicates it.
   */
  abstract retry(delivery: Delivery, message: Message, delay: number): Promise<void>;
  /** Gives unstarted deliveries back to the broker, ahead of the others where it can. */
  abstract requeue(deliveries: Delivery[]): Promise<void>;
  /** Wakes a pending `fetch` so shutdown need not wait out its timeout. */
  abstract interrupt(): void;
  abstract close(): Promise<void>;
}

export interface BrokerOptions {
  /** The middleware chain. @defaultValue `defaultMiddleware()` */
  middleware?: Middleware[];
  /** @defaultValue the global encoder (JSON) */
  encoder?: Encoder;
}

type HookFn = (...args: never[]) => unknown;

/** Option names every actor accepts, whatever the middleware. */
export const CORE_ACTOR_OPTIONS: ReadonlySet<string> = new Set(["actorName", "queueName", "priority", "broker"]);

/**
 * The middleware host and the contract every broker adapter fulfils. Owns the actor
 * registry, declared queues and hook emission; adapters only move bytes.
 */
export abstract class Broker {
  readonly encoder: Encoder;
  readonly logger: Logger;
  readonly #middleware: Middleware[] = [];
  readonly #hooks = new Map<HookName, HookFn[]>();
  #wrappers: ProcessWrapper[] = [];
  readonly #actorOptions = new Set<string>(CORE_ACTOR_OPTIONS);
  readonly #actors = new Map<string, Actor>();
  readonly #queues = new Set<string>();
  readonly #queueListeners = new Set<(queueName: string) => void>();
  #closing: Promise<void> | undefined;

  constructor(options: BrokerOptions = {}) {
    this.encoder = options.encoder ?? getEncoder();
    this.logger = getLogger(`broker.${this.constructor.name}`);
    for (const m of options.middleware ?? defaultMiddleware()) this.addMiddleware(m);
  }

  // ---- middleware -------------------------------------------------------------------------

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
    if (this.#middleware.some((m) => m.constructor === middleware.constructor)) {
      this.logger.warn({ middleware: middleware.name }, "Middleware of this type is already in the chain");
    }
    this.#middleware.splice(index, 0, middleware);
    holdMiddleware(middleware, this);
    for (const name of middleware.actorOptions) this.#actorOptions.add(name);
    this.#rebuildHooks();

    const replay = middleware as Partial<MiddlewareHooks>;
    for (const actor of this.#actors.values()) {
      replay.beforeDeclareActor?.(this, actor);
      replay.afterDeclareActor?.(this, actor);
    }
    for (const queue of this.#queues) {
      replay.beforeDeclareQueue?.(this, queue);
      replay.afterDeclareQueue?.(this, queue);
      replay.afterDeclareDelayQueue?.(this, delayQueueName(queue));
    }
  }

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
    return wrapper.wrapProcessMessage(this, proxy, next);
  }

  /** The first middleware that is an instance of `cls`, if any. */
  getMiddleware<T extends Middleware>(cls: abstract new (...args: never[]) => T): T | undefined {
    return this.#middleware.find((m): m is T => m instanceof cls);
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
  #emitSync<K extends HookName>(hook: K, ...args: Parameters<MiddlewareHooks[K]>): void {
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

  // ---- actors and queues ------------------------------------------------------------------

  /**
   * Registers an actor and declares its queue.
   * @throws InvalidOptions for a duplicate name or options no middleware accepts.
   */
  declareActor(actor: Actor): void {
    const existing = this.#actors.get(actor.actorName);
    if (existing === actor) return;
    if (existing) throw new InvalidOptions(`An actor named ${JSON.stringify(actor.actorName)} is already registered`);
    const unknown = Object.keys(actor.options).filter((key) => !this.#actorOptions.has(key));
    if (unknown.length > 0) {
      throw new InvalidOptions(
        `Actor ${JSON.stringify(actor.actorName)} got unknown option(s) ${unknown.join(", ")}; ` +
          `valid options are: ${[...this.#actorOptions].sort().join(", ")}`,
      );
    }
    this.#emitSync("beforeDeclareActor", this, actor);
    this.declareQueue(actor.queueName);
    this.#actors.set(actor.actorName, actor);
    this.#emitSync("afterDeclareActor", this, actor);
  }

  /** @throws ActorNotFound */
  getActor(name: string): Actor {
    const actor = this.#actors.get(name);
    if (actor === undefined) throw new ActorNotFound(name);
    return actor;
  }

  /** The actor named `name`, or undefined. */
  findActor(name: string): Actor | undefined {
    return this.#actors.get(name);
  }

  get actors(): ReadonlyMap<string, Actor> {
    return this.#actors;
  }

  /** Declares a queue (and its `.DQ`/`.XQ` companions). Idempotent. */
  declareQueue(queueName: string): void {
    if (this.#queues.has(queueName)) return;
    assertQueueName(queueName);
    this.#emitSync("beforeDeclareQueue", this, queueName);
    this.#queues.add(queueName);
    this.queueDeclared(queueName);
    this.#emitSync("afterDeclareQueue", this, queueName);
    this.#emitSync("afterDeclareDelayQueue", this, delayQueueName(queueName));
    for (const listener of this.#queueListeners) listener(queueName);
  }

  /** Adapters override this to prepare broker-side structures for a new queue. */
  protected queueDeclared(_queueName: string): void {}

  /** Canonical names of every declared queue. */
  get queues(): ReadonlySet<string> {
    return this.#queues;
  }

  /** Calls `listener` for every queue declared from now on; returns an unsubscribe function. */
  onQueueDeclared(listener: (queueName: string) => void): () => void {
    this.#queueListeners.add(listener);
    return () => this.#queueListeners.delete(listener);
  }

  /** @throws QueueNotFound */
  protected assertDeclared(queueName: string): void {
    if (!this.#queues.has(queueName)) throw new QueueNotFound(queueName);
  }

  // ---- messages ---------------------------------------------------------------------------

  /** The broker-side priority of a message: its own, else its actor's, else 0. Lower runs first. */
  priorityOf(message: Message): number {
    const own = message.options.priority;
    if (typeof own === "number") return own;
    return this.#actors.get(message.actorName)?.priority ?? 0;
  }

  encode(message: Message): string {
    return this.encoder.encode(message.asData());
  }

  /** @throws DecodeError, MessageTooLarge */
  decode(body: string | Buffer): Message {
    return Message.fromData(this.encoder.decode(body));
  }

  /**
   * Writes a message to its queue, visible after `delay` ms, running the enqueue hooks.
   * Resolves once the broker holds it; rejects with a typed error otherwise.
   */
  enqueue<M extends Message<any>>(message: M, options: EnqueueOptions = {}): Promise<M> {
    try {
      const delay = Math.max(0, options.delay ?? 0);
      this.assertDeclared(message.queueName);
      const before = this.emit("beforeEnqueue", this, message, delay);
      if (before !== undefined || delay > 0) return this.#enqueueWaiting(message, delay, before);
      // No hook to wait for (the default chain has none): one promise, no extra turns.
      return this.writeMessage(message, this.encode(message), { delay, priority: this.priorityOf(message) }).then(() => this.#enqueued(message, delay));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  async #enqueueWaiting<M extends Message<any>>(message: M, delay: number, before: void | Promise<void>): Promise<M> {
    await before;
    if (delay > 0) await this.emit("beforeDelayMessage", this, message, delay);
    await this.writeMessage(message, this.encode(message), { delay, priority: this.priorityOf(message) });
    return this.#enqueued(message, delay);
  }

  #enqueued<M extends Message<any>>(message: M, delay: number): M | Promise<M> {
    bindBroker(message, this);
    const after = this.emit("afterEnqueue", this, message, delay);
    return after === undefined ? message : after.then(() => message);
  }

  /**
   * Enqueues several messages in one call (a bulk send), running the enqueue hooks for each
   * exactly as `enqueue` does. Adapters that can store many messages in one round trip
   * override `writeMessages`. Resolves once the broker holds every message; rejects with the
   * first error (messages written before it stay written).
   */
  async enqueueMany<M extends Message<any>>(messages: readonly M[], options: EnqueueOptions = {}): Promise<M[]> {
    const delay = Math.max(0, options.delay ?? 0);
    const writes: MessageWrite[] = [];
    // Hooks return a promise only when they have something to wait for: await only then.
    for (const message of messages) {
      this.assertDeclared(message.queueName);
      const before = this.emit("beforeEnqueue", this, message, delay);
      if (before !== undefined) await before;
      if (delay > 0) await this.emit("beforeDelayMessage", this, message, delay);
      writes.push({ message, body: this.encode(message), options: { delay, priority: this.priorityOf(message) } });
    }
    if (writes.length > 0) await this.writeMessages(writes);
    for (const message of messages) {
      bindBroker(message, this);
      const after = this.emit("afterEnqueue", this, message, delay);
      if (after !== undefined) await after;
    }
    return messages.slice();
  }

  /** Adapters store `body` on `message.queueName` (or its delay store when `delay` > 0). */
  protected abstract writeMessage(message: Message, body: string, options: WriteOptions): Promise<void>;

  /**
   * Stores several messages; by default one `writeMessage` each, all under way at once.
   * Adapters override it to use fewer round trips.
   */
  protected async writeMessages(writes: readonly MessageWrite[]): Promise<void> {
    await Promise.all(writes.map((w) => this.writeMessage(w.message, w.body, w.options)));
  }

  /** Opens a consumer on a declared queue. */
  abstract consume(queueName: string, options: ConsumeOptions): Consumer;

  /** Resolves when the queue has no ready, delayed or in-flight messages. */
  abstract join(queueName: string, options?: JoinOptions): Promise<void>;

  /** Drops every message of the queue, its delay store and its dead letters. */
  abstract flush(queueName: string): Promise<void>;

  /** `flush` for every declared queue. */
  async flushAll(): Promise<void> {
    for (const queue of this.#queues) await this.flush(queue);
  }

  abstract depths(queueName: string): Promise<QueueDepths>;

  /** The queue's dead letters, oldest first, at most `limit`. */
  abstract deadLetters(queueName: string, limit?: number): Promise<DeadLetter[]>;

  /**
   * Moves dead letters of the queue back onto it, ready to run again: those whose id (as
   * `deadLetters` reports it) is in `ids`, or every one when `ids` is omitted. Each comes back
   * as `reviveDeadLetter` makes it (retry count reset), at its priority, in dead-letter order.
   * Every message moves atomically: it is at all times either a dead letter or queued, never
   * both and never neither. Ids that are not dead letters of the queue are ignored.
   * @returns how many dead letters were requeued.
   */
  abstract requeueDeadLetters(queueName: string, ids?: readonly string[]): Promise<number>;

  /**
   * The message a dead letter runs again as: the same id, arguments and timestamp, without the
   * `retries` count (so Retries gives it its full budget again), the last `traceback` and any
   * `eta`. Undefined for a body that does not decode (it is requeued unchanged, and will be
   * dead-lettered again unless the encoder changed).
   */
  reviveDeadLetter(body: string | Buffer): Message | undefined {
    let message: Message;
    try {
      message = this.decode(body);
    } catch {
      return undefined;
    }
    const { retries: _retries, traceback: _traceback, eta: _eta, ...options } = message.options;
    return new Message({ ...message, args: message.args, options });
  }

  /**
   * The broker's own key-value store, for features that need a shared atomic claim (cron
   * ticks). Undefined for brokers without one (RabbitMQ): give those features a store.
   */
  get store(): KeyValueStore | undefined {
    return undefined;
  }

  /**
   * Releases the broker's connections, then closes its middleware (their backends'
   * connections) unless another open broker still holds them, so that a script whose last
   * step is `broker.close()` exits. The broker cannot be used afterwards. Idempotent.
   */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    try {
      await this.closeConnections();
    } finally {
      await releaseMiddleware(this, this.#middleware, this.logger);
    }
  }

  /** Adapters release their connections here; consumers give back what they hold first. */
  protected abstract closeConnections(): Promise<void>;
}

// ---- the global broker ----------------------------------------------------------------------

let globalBroker: Broker | undefined;
const globalActors = new Map<string, Actor>();

/**
 * Makes `broker` the one actors without an explicit `broker` option use, and declares every
 * such actor on it (so modules may declare actors before the broker is chosen).
 */
export function setBroker(broker: Broker): Broker {
  globalBroker = broker;
  for (const actor of globalActors.values()) broker.declareActor(actor);
  return broker;
}

/** @throws DramatsError when no broker was set. */
export function getBroker(): Broker {
  if (globalBroker === undefined) {
    throw new DramatsError("No broker is set: call setBroker(new RedisBroker(...)) (or another broker) first");
  }
  return globalBroker;
}

/** The global broker, or undefined. */
export function peekBroker(): Broker | undefined {
  return globalBroker;
}

/** @internal Registers an actor that follows the global broker. */
export function registerGlobalActor(actor: Actor): void {
  const existing = globalActors.get(actor.actorName);
  if (existing && existing !== actor) {
    throw new InvalidOptions(`An actor named ${JSON.stringify(actor.actorName)} is already registered`);
  }
  globalActors.set(actor.actorName, actor);
  globalBroker?.declareActor(actor);
}
