import { randomUUID } from "node:crypto";
import { Redis, type RedisOptions } from "ioredis";
import { Broker, type BrokerAddress, type ConsumeOptions, type DeadLetter, type MessageWrite, type OnceClaim, type QueueDepths, type QueueLook, type WriteOptions } from "../../lib/broker.ts";
import { DramatsError } from "../../lib/errors.ts";
import { Message } from "../../lib/message.ts";
import { canonicalQueueName } from "../../lib/queue-names.ts";
import { sleep } from "../../lib/sleep.ts";
import { Batcher } from "./batcher.ts";
import { RedisConsumer, type ConsumerHost } from "./consumer.ts";
import { toBrokerError } from "./errors.ts";
import { RedisKeys } from "./keys.ts";
import { REDIS_DEFAULTS, resolveRedisOptions, type RedisBrokerOptions, type RedisDelays, type RedisPriorities, type ResolvedRedisOptions } from "./options.ts";
import { SideStores, type HistoryStore, type QueueBrowser, type RedisKeyValueStore, type RedisWorkerRegistry } from "./side-stores.ts";
import { encodePayload } from "./payload.ts";
import { Maintenance, type MaintenanceResult } from "./maintenance.ts";
import { RedisLayout, type StoreEntry } from "./layout.ts";
import { Scripts, UNPIPELINED_COMMANDS } from "./scripts.ts";
import { WakeUp } from "./wake-up.ts";
import { withDefaultChain } from "../../middleware/defaults.ts";

export { RedisConsumer, type RedisDelivery } from "./consumer.ts";
export { MessageDeadLettered } from "./errors.ts";
export { parseRedisUrl, REDIS_DEFAULTS, type RedisBrokerOptions, type RedisDelays, type RedisPriorities } from "./options.ts";
export { RedisResultBackend, type RedisResultBackendOptions } from "./result-backend.ts";
export { RedisRateLimiterBackend, type RedisRateLimiterBackendOptions } from "./rate-limiter-backend.ts";
export { RedisCancellationBackend, type RedisCancellationBackendOptions } from "./cancellation-backend.ts";
export { RedisKeyValueStore } from "./key-value-store.ts";
export { RedisWorkerRegistry } from "./worker-registry.ts";
export type { MaintenanceResult } from "./maintenance.ts";

/** Dead letters moved back per script call: each call is atomic, and short. */
const REQUEUE_CHUNK = 500;

/**
 * Where a join starts looking for dead letters: those scored (server clock, ms) `since` or later,
 * but for the ones scored exactly `since` that an earlier look saw.
 */
interface DeadLetterCursor {
  readonly since: number;
  readonly covered: readonly string[];
}

/**
 * A broker on Redis, sharing Python Dramatiq's key layout and message format (see
 * `common.lua`), with delays and priorities kept in Redis, timer-driven heartbeats,
 * deterministic recovery of dead consumers' messages, and blocking wake-ups instead of polling.
 *
 * Connections: one for commands (auto-pipelined), plus one blocking connection per consumer.
 */
export class RedisBroker extends Broker {
  /** Identifies this broker's connections (`CLIENT LIST` names start with `dramats:<id>`). */
  readonly id = randomUUID();
  /** The names of the Redis keys this broker uses (under its namespace). */
  readonly keys: RedisKeys;
  readonly #options: ResolvedRedisOptions;
  readonly #redis: Redis;
  readonly #scripts: Scripts;
  readonly #maintenance: Maintenance;
  readonly #consumers = new Set<RedisConsumer>();
  readonly #enqueues = new Map<string, Batcher<StoreEntry>>();
  /** Where delayed messages go: Dramatiq's delay queue `ns:q.DQ` (default), or the sorted set (option `delays`). */
  readonly delays: RedisDelays;
  /** What priority does at the broker: nothing, as in Dramatiq (default), or levels (option `priorities`). */
  readonly priorities: RedisPriorities;
  readonly #layout: RedisLayout;
  readonly #host: ConsumerHost;
  #everConnected = false;
  #closed = false;
  #heartbeatTimer: NodeJS.Timeout | undefined;
  #maintenanceTimer: NodeJS.Timeout | undefined;

  constructor(options: RedisBrokerOptions = {}) {
    super(withDefaultChain(options));
    this.#options = resolveRedisOptions(options);
    this.keys = new RedisKeys(this.#options.namespace);
    this.delays = this.#options.delays;
    this.priorities = this.#options.priorities;
    this.#layout = new RedisLayout(this.delays, this.priorities, this.encoder);
    this.#redis = new Redis(this.#connectionOptions("cmd", {
      enableAutoPipelining: true,
      autoPipeliningIgnoredCommands: [...UNPIPELINED_COMMANDS],
      maxRetriesPerRequest: REDIS_DEFAULTS.maxRetriesPerRequest,
      commandTimeout: REDIS_DEFAULTS.commandTimeout,
    }));
    this.#redis.on("error", (error) => this.logger.debug({ err: error }, "Redis connection error"));
    this.#redis.on("ready", () => {
      if (this.#everConnected) {
        this.logger.warn("Reconnected to Redis");
        for (const consumer of this.#consumers) consumer.markReconnected();
      }
      this.#everConnected = true;
    });
    this.#redis.on("reconnecting", () => {
      for (const consumer of this.#consumers) consumer.markReconnected();
    });
    this.#scripts = new Scripts(this.#redis);
    this.#maintenance = new Maintenance(this.#scripts, this.keys, this.#options, this.logger);

    const broker = this;
    this.#host = {
      scripts: this.#scripts,
      keys: this.keys,
      logger: this.logger,
      deadMessageTtl: this.#options.deadMessageTtl,
      // The encoder's limit, where it has one: decode would refuse a longer body anyway.
      maxBodySize: "maxSize" in this.encoder && typeof this.encoder.maxSize === "number" ? this.encoder.maxSize : 0,
      createWakeUp: (queueName, consumerId) =>
        new WakeUp(
          this.#connectionOptions(`wake:${queueName}:${consumerId.slice(0, 8)}`),
          { shared: this.keys.wake(queueName), own: this.keys.ownWake(queueName, consumerId) },
          this.#redis,
          this.logger,
        ),
      brokerError: (error, what) => toBrokerError(error, broker.#everConnected, what),
      holdDelayed: this.#options.delays === "dramatiq",
      retryEntry: (message, rid, delay) => this.#layout.entry(message, undefined, rid, this.priorityOf(message), delay),
      delayedPriority: this.#options.priorities === "levels" ? (body) => this.#delayedPriority(body) : undefined,
      rememberDeadLetter: (queueName, rid, error) => this.rememberDeadLetter(queueName, rid, error),
      detach: (consumer) => this.#consumers.delete(consumer),
    };
  }

  /**
   * Connection options for one of this broker's connections. Our reconnection policy and
   * fail-fast settings apply unless the user's `client` options say otherwise.
   */
  #connectionOptions(role: string, defaults: RedisOptions = {}): RedisOptions {
    const user = this.#options.connection;
    return {
      lazyConnect: true,
      retryStrategy: (times: number) => Math.min(50 * 2 ** (times - 1), REDIS_DEFAULTS.maxReconnectDelay) + Math.floor(Math.random() * 50),
      connectionName: `dramats:${this.id.slice(0, 8)}:${role}`,
      ...defaults,
      ...user,
    };
  }

  /** The payload stored under `rid`: the message with Dramatiq's `redis_message_id` set. */
  #payload(message: Message, rid: string): string {
    return encodePayload(this.encoder, message, rid);
  }

  /** The level a held delay-queue message goes to when due (`priorities: "levels"`). */
  #delayedPriority(body: string): number {
    try {
      return this.#layout.priority(this.priorityOf(this.decode(body)));
    } catch {
      return 0; // undecodable: the fetch or the worker dead-letters it
    }
  }

  /**
   * Reads a payload. Messages adopted from Python Dramatiq's delay queue carry `eta` (and may
   * still say `queue_name: "q.DQ"`): once ready they are delivered as plain messages of `q`.
   */
  override decode(body: string | Buffer): Message {
    const message = super.decode(body);
    if (message.options.eta === undefined && !message.queueName.endsWith(".DQ")) return message;
    const { eta: _eta, ...options } = message.options;
    return new Message({ ...message, args: message.args, queueName: canonicalQueueName(message.queueName), options });
  }

  protected async writeMessage(message: Message, body: string, options: WriteOptions): Promise<void> {
    if (this.#closed) throw new DramatsError("RedisBroker is closed");
    // Dramatiq's workers ack by `options.redis_message_id`: the stored payload carries the id
    // it is stored under (spliced into `body` when the bytes are known to match; payload.ts).
    await this.#enqueueBatcher(message.queueName).add(this.#layout.entry(message, body, randomUUID(), options.priority, options.delay));
  }

  /** One `enqueue-once.lua` call: the claim in the store and the messages where enqueue.lua puts them. */
  protected override async writeMessagesOnce(claim: Required<OnceClaim>, writes: readonly MessageWrite[]): Promise<boolean> {
    if (this.#closed) throw new DramatsError("RedisBroker is closed");
    const entries: (string | number)[] = [];
    for (const { message, body, options } of writes) {
      entries.push(this.keys.queue(message.queueName), ...this.#layout.entry(message, body, randomUUID(), options.priority, options.delay));
    }
    const ttl = Math.max(1, Math.round(claim.ttl));
    return this.#call("enqueueOnce", () => this.#scripts.enqueueOnce(this.store.redisKey(claim.key), claim.value, ttl, entries));
  }

  #enqueueBatcher(queueName: string): Batcher<StoreEntry> {
    let batcher = this.#enqueues.get(queueName);
    if (batcher === undefined) {
      const base = this.keys.queue(queueName);
      batcher = new Batcher(async (entries) => {
        try {
          await this.#scripts.enqueue(base, entries.flat());
        } catch (error) {
          throw toBrokerError(error, this.#everConnected, "enqueue");
        }
      }, { maxBatch: 500 });
      this.#enqueues.set(queueName, batcher);
    }
    return batcher;
  }

  consume(queueName: string, _options?: ConsumeOptions): RedisConsumer {
    this.assertDeclared(queueName);
    if (this.#closed) throw new DramatsError("RedisBroker is closed");
    const consumer = new RedisConsumer(this.#host, queueName);
    this.#consumers.add(consumer);
    this.#startTimers();
    void this.#heartbeat();
    this.consumerOpened(consumer);
    return consumer;
  }

  /** The connection options (JSON-safe: functions such as a retryStrategy are left out) and the namespace. */
  override recoveryAddress(): BrokerAddress {
    const client = JSON.parse(JSON.stringify(this.#options.connection)) as Record<string, unknown>;
    return { scheme: "redis:", options: { client, namespace: this.#options.namespace } };
  }

  /**
   * Gives back what the dead consumer `id` held, to the head of its queue, in one script call
   * (`recover.lua`), and forgets its heartbeat: maintenance would otherwise do the same once the
   * heartbeat timed out.
   */
  override async recoverConsumer(id: string): Promise<number> {
    return this.#call("recoverConsumer", () => this.#scripts.recover(this.keys.heartbeats, this.keys.consumers, this.keys.prefix, [id]));
  }

  #startTimers(): void {
    if (this.#heartbeatTimer) return;
    this.#heartbeatTimer = setInterval(() => void this.#heartbeat(), this.#options.heartbeatInterval).unref();
    // Spread brokers started together over the interval.
    const interval = this.#options.maintenanceInterval;
    const first = setTimeout(() => {
      void this.runMaintenance().catch(() => undefined);
      this.#maintenanceTimer = setInterval(() => void this.runMaintenance().catch(() => undefined), interval).unref();
    }, Math.floor(Math.random() * interval)).unref();
    this.#maintenanceTimer = first;
  }

  #stopTimers(): void {
    clearInterval(this.#heartbeatTimer);
    clearInterval(this.#maintenanceTimer);
    this.#heartbeatTimer = undefined;
    this.#maintenanceTimer = undefined;
  }

  async #heartbeat(): Promise<void> {
    if (this.#consumers.size === 0 || this.#closed) return;
    const pairs: string[] = [];
    for (const consumer of this.#consumers) pairs.push(consumer.id, consumer.queueName);
    try {
      await this.#scripts.heartbeat(this.keys.heartbeats, this.keys.consumers, pairs);
    } catch (error) {
      this.logger.warn({ err: error }, "Heartbeat failed; retrying on the next beat");
    }
  }

  /**
   * One bounded pass of recovery (maintenance.lua): requeues what dead consumers held, of
   * either language, and trims dead letters past their TTL. Runs on a timer while this broker
   * has consumers; call it directly to force a pass.
   */
  async runMaintenance(): Promise<MaintenanceResult> {
    try {
      return await this.#maintenance.run([...new Set([...this.#consumers].map((c) => c.queueName))]);
    } catch (error) {
      this.logger.warn({ err: error }, "Maintenance failed; retrying on schedule");
      throw toBrokerError(error, this.#everConnected, "maintenance");
    }
  }

  /** The server's clock: dead letters are scored by it. */
  protected async deadLetterCursor(): Promise<DeadLetterCursor> {
    const [seconds, micros] = await this.#call("join", () => this.#redis.time());
    return { since: Number(seconds) * 1000 + Math.floor(Number(micros) / 1000), covered: [] };
  }

  /** One `stats.lua` call: in flight counts what every consumer, in any process, holds. */
  protected async lookAtQueue(queueName: string, after: DeadLetterCursor, deadLetters: boolean): Promise<QueueLook<DeadLetterCursor>> {
    const stats = await this.#call("join", () => this.#scripts.stats(this.keys.queue(queueName), deadLetters ? after.since : -1, after.covered));
    const idle = stats.ready + stats.delayed + stats.inFlight === 0;
    const cursor = { since: stats.now, covered: stats.deadAtNow };
    if (stats.deadId === null) return { idle, cursor };
    let messageId = stats.deadId;
    try {
      if (stats.deadBody !== null) messageId = this.decode(stats.deadBody).messageId;
    } catch {
      // undecodable: keep the broker's id
    }
    return { idle, cursor, dead: { id: stats.deadId, messageId, reason: stats.deadReason ?? "unknown reason" } };
  }

  protected async flushQueue(queueName: string): Promise<void> {
    await this.#call("flush", () => this.#scripts.flush(this.keys.queue(queueName)));
  }

  async depths(queueName: string): Promise<QueueDepths> {
    this.assertDeclared(queueName);
    const { ready, delayed, inFlight, dead } = await this.#call("depths", () => this.#scripts.stats(this.keys.queue(queueName), -1));
    return { ready, delayed, inFlight, dead };
  }

  /** The head of each ready list: its eta when it was delayed, else its `message_timestamp` (oldest.lua). */
  override async oldestReadyAt(queueName: string): Promise<number | undefined> {
    this.assertDeclared(queueName);
    return this.#call("oldest", () => this.#scripts.oldest(this.keys.queue(queueName)));
  }

  /** The queue's dead letters, oldest first. `rid` is the id the payload is stored under. */
  async deadLetters(
    queueName: string,
    limit = Infinity,
  ): Promise<
    (DeadLetter & {
      /** The id the payload is stored under. */
      rid: string;
    })[]
  > {
    this.assertDeclared(queueName);
    const count = Number.isFinite(limit) ? Math.max(0, Math.floor(limit)) : -1;
    const raw = await this.#call("deadLetters", () => this.#scripts.deadLetters(this.keys.queue(queueName), count));
    return raw.map(({ rid, body, reason, deadAt }) => {
      let id = rid;
      try {
        id = this.decode(body).messageId;
      } catch {
        // undecodable: keep the broker's id
      }
      return { id, rid, body, reason: reason ?? "Dead-lettered by another client (no reason recorded)", deadAt };
    });
  }

  /**
   * Reads the dead letters, then moves the chosen ones back in chunks of one script call each
   * (see `requeue-dead.lua`); `ids` may name a dead letter by message id or by its rid.
   */
  async requeueDeadLetters(queueName: string, ids?: readonly string[]): Promise<number> {
    const wanted = ids === undefined ? undefined : new Set(ids);
    const letters = (await this.deadLetters(queueName)).filter((l) => wanted === undefined || wanted.has(l.id) || wanted.has(l.rid));
    const base = this.keys.queue(queueName);
    let moved = 0;
    for (let i = 0; i < letters.length; i += REQUEUE_CHUNK) {
      const entries: (string | number)[] = [];
      for (const letter of letters.slice(i, i + REQUEUE_CHUNK)) {
        const message = this.reviveDeadLetter(letter.body);
        if (message === undefined) entries.push(letter.rid, letter.body, 0);
        else entries.push(letter.rid, this.#payload(message, letter.rid), this.#layout.priority(this.priorityOf(message)));
      }
      moved += await this.#call("requeueDeadLetters", () => this.#scripts.requeueDead(base, entries));
    }
    return moved;
  }

  async #call<T>(what: string, operation: () => Promise<T>): Promise<T> {
    try {
      return await operation();
    } catch (error) {
      throw toBrokerError(error, this.#everConnected, what);
    }
  }

  // The namespace's side stores, each made on first use (brokers/redis/side-stores.ts).
  readonly #side = new SideStores(() => ({ redis: this.#redis, namespace: this.#options.namespace, keys: this.keys, scripts: this.#scripts, broker: this, call: (what, op) => this.#call(what, op) }));
  /** Strings in this broker's namespace, for cron tick claims (SET NX PX). */
  override get store(): RedisKeyValueStore {
    return this.#side.store;
  }
  /** Worker records in this namespace (`dramats workers`; lib/worker-registry.ts). */
  get workerRegistry(): RedisWorkerRegistry {
    return this.#side.workerRegistry;
  }
  /** Reads this namespace's queues in place, for the dashboard (lib/queue-browser.ts). */
  get queueBrowser(): QueueBrowser {
    return this.#side.queueBrowser;
  }
  /** Per-minute fleet history in this namespace, a hash per minute (the dashboard's charts; lib/history-store.ts). */
  get historyStore(): HistoryStore {
    return this.#side.historyStore;
  }

  /** The command connection, for backends that share it (results, rate limits). */
  get client(): Redis {
    return this.#redis;
  }

  /**
   * Closes every consumer (they give their held messages back), waits for pending writes,
   * and closes the connections.
   */
  protected async closeConnections(): Promise<void> {
    if (this.#closed) return;
    for (const consumer of [...this.#consumers]) await consumer.close();
    this.#closed = true;
    this.#stopTimers();
    await Promise.all([...this.#enqueues.values()].map((b) => b.drain()));
    const quit = this.#redis.status === "ready" ? this.#redis.quit().catch(() => undefined) : Promise.resolve();
    await Promise.race([quit, sleep(1_000)]);
    this.#redis.disconnect();
  }
}
