import type { Actor } from "./actor.ts";
import type { Consumer, ConsumeOptions } from "./consumer.ts";
import { getEncoder, type Encoder } from "./encoder.ts";
import { ActorNotFound, DramatsError, InvalidOptions, QueueNotFound } from "./errors.ts";
import type { KeyValueStore } from "./key-value-store.ts";
import { Joins, type QueueLook } from "./join.ts";
import { getLogger } from "./logging.ts";
import { releaseMiddleware } from "./middleware-holders.ts";
import { bindBroker, Message, revive } from "./message.ts";
import { enqueueDelay } from "./send-options.ts";
import { assertQueueName, delayQueueName } from "./queue-names.ts";
import type { Middleware, MiddlewareHooks } from "./middleware.ts";
import { CORE_ACTOR_OPTIONS, MiddlewareHost, replayDeclared } from "./middleware-host.ts";
import type { BrokerAddress, DeadLetter, EnqueueOptions, JoinOptions, MessageWrite, OnceClaim, QueueDepths, WriteOptions } from "./broker-types.ts";

/** Options every broker takes; adapters add their own. */
export interface BrokerOptions {
  /**
   * The middleware chain. @defaultValue every adapter shipped with dramats uses
   * `defaultMiddleware()`; the base class itself knows no policy and starts empty
   */
  middleware?: Middleware[];
  /** @defaultValue the global encoder (JSON) */
  encoder?: Encoder;
}

/**
 * The middleware host and the contract every broker adapter fulfils. Owns the actor
 * registry, declared queues and hook emission; adapters only move bytes.
 */
export abstract class Broker extends MiddlewareHost {
  /** Turns messages into bodies and back. */ readonly encoder: Encoder;
  readonly #actors = new Map<string, Actor>();
  readonly #queues = new Set<string>();
  readonly #sentTo = new Set<string>(); // see declaredBySend
  readonly #queueListeners = new Set<(queueName: string) => void>();
  #closing: Promise<void> | undefined;
  readonly #consumerListeners = new Set<(consumer: Consumer) => void>();
  readonly #joins = new Joins({
    cursor: (queueName) => this.deadLetterCursor(queueName),
    look: (queueName, after, deadLetters) => this.lookAtQueue(queueName, after, deadLetters),
    watch: (queueName) => this.watchQueue?.(queueName),
  });

  constructor(options: BrokerOptions = {}) {
    super(getLogger(`broker.${new.target.name}`));
    this.encoder = options.encoder ?? getEncoder();
    for (const m of options.middleware ?? []) this.addMiddleware(m);
  }

  protected override replayDeclarations(replay: Partial<MiddlewareHooks>): void {
    replayDeclared(this, replay, this.#actors.values(), this.#queues);
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
    const unknown = Object.keys(actor.options).filter((key) => !this.acceptsActorOption(key));
    if (unknown.length > 0) {
      throw new InvalidOptions(
        `Actor ${JSON.stringify(actor.actorName)} got unknown option(s) ${unknown.join(", ")}; ` +
          `valid options are: ${[...this.actorOptions].sort().join(", ")}`,
      );
    }
    this.emitSync("beforeDeclareActor", this, actor);
    this.declareQueue(actor.queueName);
    this.#actors.set(actor.actorName, actor);
    this.emitSync("afterDeclareActor", this, actor);
  }

  /** Whether `declareActor` accepts an actor option of this name: one a middleware of the chain claims. */
  protected acceptsActorOption(name: string): boolean {
    return this.actorOptions.has(name);
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

  /** Every actor declared on this broker, by name. */ get actors(): ReadonlyMap<string, Actor> {
    return this.#actors;
  }

  /** Declares a queue (and its `.DQ`/`.XQ` companions), for workers to consume. Idempotent. */
  declareQueue(queueName: string): void {
    if (!this.#queues.has(queueName)) this.#declare(queueName, true);
    else if (this.#sentTo.delete(queueName)) for (const listener of this.#queueListeners) listener(queueName);
  }

  /** True when only sends declared the queue (a pipeline step or callback for another process's queue): workers without a queue filter leave it alone. */
  declaredBySend(queueName: string): boolean {
    return this.#sentTo.has(queueName);
  }

  /** `consume` false: a send to a queue never declared here, declared on the fly as Dramatiq's brokers do (dramatiq/brokers/rabbitmq.py:383 declares on enqueue; redis.py:150-185 writes to any queue), but not consumed. @throws InvalidOptions */
  #declare(queueName: string, consume: boolean): void {
    assertQueueName(queueName);
    this.emitSync("beforeDeclareQueue", this, queueName);
    this.#queues.add(queueName);
    if (!consume) this.#sentTo.add(queueName);
    this.queueDeclared(queueName);
    this.#joins.reset(queueName);
    this.emitSync("afterDeclareQueue", this, queueName);
    this.emitSync("afterDeclareDelayQueue", this, delayQueueName(queueName));
    if (consume) for (const listener of this.#queueListeners) listener(queueName);
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

  /** The message's body, by the broker's encoder. @throws EncodeError, MessageTooLarge */ encode(message: Message): string {
    return this.encoder.encode(message.asData());
  }

  /** @throws DecodeError, MessageTooLarge */
  decode(body: string | Buffer): Message {
    return Message.fromData(this.encoder.decode(body));
  }

  /**
   * Writes a message to its queue, visible after `delay` ms, running the enqueue hooks. A queue
   * this process never declared is declared on the fly (not consumed here: see `declaredBySend`).
   * Resolves once the broker holds it; rejects with a typed error otherwise.
   */
  enqueue<M extends Message<any>>(message: M, options: EnqueueOptions = {}): Promise<M> {
    try {
      const delay = enqueueDelay(options.delay);
      if (!this.#queues.has(message.queueName)) this.#declare(message.queueName, false);
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
    const delay = enqueueDelay(options.delay);
    const writes: MessageWrite[] = [];
    // Hooks return a promise only when they have something to wait for: await only then.
    for (const message of messages) {
      if (!this.#queues.has(message.queueName)) this.#declare(message.queueName, false);
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

  /**
   * True when `enqueueOnce` is available: the broker can set a key of its own store and write
   * messages in one atomic step (a Lua script, a transaction). False for brokers whose messages
   * live in a system without such a step (RabbitMQ).
   */
  get canEnqueueOnce(): boolean {
    return this.writeMessagesOnce !== undefined;
  }

  /**
   * Enqueues `messages` (ready now, running the enqueue hooks) and sets `claim.key` in
   * `store`, as one broker step, unless the key is already set: then nothing is written. The
   * key and the messages exist together or not at all, whatever fails or dies: a rejected
   * call wrote nothing and may simply be made again.
   * @returns true when this call set the key and wrote the messages; false when the key existed.
   * @throws DramatsError when `canEnqueueOnce` is false
   */
  async enqueueOnce(claim: OnceClaim, messages: readonly Message<any>[]): Promise<boolean> {
    if (this.writeMessagesOnce === undefined) throw new DramatsError(`${this.constructor.name} cannot enqueue atomically with a claim in its own store`);
    const writes: MessageWrite[] = [];
    for (const message of messages) {
      if (!this.#queues.has(message.queueName)) this.#declare(message.queueName, false);
      await this.emit("beforeEnqueue", this, message, 0);
      writes.push({ message, body: this.encode(message), options: { delay: 0, priority: this.priorityOf(message) } });
    }
    if (!(await this.writeMessagesOnce({ value: "1", ...claim }, writes))) return false;
    for (const message of messages) {
      bindBroker(message, this);
      await this.emit("afterEnqueue", this, message, 0);
    }
    return true;
  }

  /**
   * Adapters that have a store implement this atomically: set `claim.key` (for `claim.ttl` ms)
   * in the store `store` returns and write every message, or, when the key exists, do nothing.
   * @returns true when the key was set and the messages written
   */
  protected writeMessagesOnce?(claim: Required<OnceClaim>, writes: readonly MessageWrite[]): Promise<boolean>;

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

  /**
   * Resolves when the queue has no ready, delayed or in-flight message (fetched by a consumer,
   * here or elsewhere, and not settled) in any process. With `failFast` (the default), rejects on
   * the first dead letter of the queue written, by any process, since this broker's previous
   * `join` or `flush` of the queue, or since it declared the queue: with the actor's own error
   * when this process dead-lettered it, else with MessageDeadLettered (queue, message id, reason).
   * So a message that failed before the join started is caught, and each fails at most one join.
   * @throws QueueJoinTimeout when the queue does not drain within `timeout` ms
   */
  async join(queueName: string, options: JoinOptions = {}): Promise<void> {
    this.assertDeclared(queueName);
    await this.#joins.join(queueName, options);
  }

  /** Drops every message of the queue, its delay store and its dead letters; joins look only past them. */
  async flush(queueName: string): Promise<void> {
    this.assertDeclared(queueName);
    await this.flushQueue(queueName);
    this.#joins.reset(queueName);
  }

  /** Adapters drop the queue's messages, delay store and dead letters, for every process. */
  protected abstract flushQueue(queueName: string): Promise<void>;
  /** Adapters: where the queue's dead letters stand now (a value or a promise); later ones are new to a join. */
  protected abstract deadLetterCursor(queueName: string): unknown;
  /** Adapters: whether the queue is idle in every process, and the first dead letter after `after` when asked. */
  protected abstract lookAtQueue(queueName: string, after: unknown, deadLetters: boolean): Promise<QueueLook<unknown>>;
  /** Adapters that hear of changes: called before a look, returns a wait for a change after it (see JoinLooks). */
  protected watchQueue?(queueName: string): ((timeout: number) => Promise<void>) | undefined;

  /** Adapters call this when they dead-letter a message: `id` is the one `lookAtQueue` reports it by. */
  protected rememberDeadLetter(queueName: string, id: string, error: unknown): void {
    this.#joins.remember(queueName, id, error);
  }

  /** `flush` for every declared queue. */
  async flushAll(): Promise<void> {
    for (const queue of this.#queues) await this.flush(queue);
  }

  /** How many messages `queueName` holds, by state. */ abstract depths(queueName: string): Promise<QueueDepths>;
  /** Epoch ms since which the queue's oldest ready message is due (its enqueue, or its eta); undefined when none is ready. Not every broker can tell (RabbitMQ cannot). */ oldestReadyAt?(queueName: string): Promise<number | undefined>;

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
    return revive(() => this.decode(body));
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
      await releaseMiddleware(this, this.middleware, this.logger);
    }
  }

  /** Adapters release their connections here; consumers give back what they hold first. */
  protected abstract closeConnections(): Promise<void>;

  // ---- recovery of a dead process's consumers ----------------------------------------------

  /** Calls `listener` with each consumer that has a `recoveryId`, as it opens; returns an unsubscribe function. */
  onConsumerOpened(listener: (consumer: Consumer) => void): () => void {
    this.#consumerListeners.add(listener);
    return () => this.#consumerListeners.delete(listener);
  }

  /** Adapters whose consumers have a `recoveryId` call this from `consume`. */
  protected consumerOpened(consumer: Consumer): void {
    for (const listener of this.#consumerListeners) listener(consumer);
  }

  /** Where another process reaches this broker to call `recoverConsumer`; undefined when it needs no help. */
  recoveryAddress(): BrokerAddress | undefined {
    return undefined;
  }

  /**
   * Makes every message held by the consumer whose `recoveryId` is `id` ready again at once, for
   * other consumers: call it only once that consumer's process is dead. Idempotent; resolves with
   * how many came back. By default nothing to do: RabbitMQ requeues a closed connection's
   * deliveries itself, and the stub's messages die with their process.
   */
  async recoverConsumer(_id: string): Promise<number> {
    return 0;
  }
}

export { getBroker, peekBroker, registerGlobalActor, setBroker } from "./global-broker.ts";
export { Consumer, type ConsumeOptions, type Delivery } from "./consumer.ts";
export { CORE_ACTOR_OPTIONS };
export type { QueueLook, SeenDeadLetter } from "./join.ts";
export type { BrokerAddress, DeadLetter, EnqueueOptions, JoinOptions, MessageWrite, OnceClaim, QueueDepths, WriteOptions } from "./broker-types.ts";
