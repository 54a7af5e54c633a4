import type { Channel, ChannelModel, MessageProperties } from "amqplib";
import { Broker, type ConsumeOptions, type DeadLetter, type JoinOptions, type MessageWrite, type QueueDepths, type WriteOptions } from "../../lib/broker.ts";
import { BrokerError, describeError, InvalidOptions, QueueJoinTimeout } from "../../lib/errors.ts";
import { Message } from "../../lib/message.ts";
import { deadLetterQueueName, delayQueueName } from "../../lib/queue-names.ts";
import { sleep } from "../../lib/sleep.ts";
import { Connector } from "./connector.ts";
import { RabbitmqConsumer, type ConsumerHost } from "./consumer.ts";
import { DEAD_AT_HEADER, DEAD_ID_HEADER, readDeadLetter, REASON_HEADER } from "./dead-letters.ts";
import { declareLadderExchanges, declareLadderQueues, ladderRoute, levelQueueNames, MAX_LADDER_DELAY, type LadderTarget } from "./delays.ts";
import { connectorSettings, resolveSettings, type RabbitmqBrokerOptions, type RabbitmqSettings } from "./options.ts";
import { Publisher, translate, type Publish, type PublishProperties } from "./publisher.ts";
import { requeueDeadLetters } from "./requeue-dead.ts";
import { amqpPriority, dramatiqQueues } from "./topology.ts";
import { withDefaultChain } from "../../middleware/defaults.ts";

export type { RabbitmqBrokerOptions } from "./options.ts";
export { RabbitmqConsumer, type RabbitmqDelivery } from "./consumer.ts";
export { MAX_LADDER_DELAY } from "./delays.ts";

/** Routing keys end with `.<queue>`; with 60 bytes of delay bits in front they must stay within 255. */
const MAX_QUEUE_NAME_BYTES = 180;
/** How often `join` looks at the queue, and how many idle looks in a row make it drained. */
const JOIN_POLL_INTERVAL = 20;
const JOIN_IDLE_CHECKS = 2;
const RECENT_DEAD_LETTERS = 100;

interface RawPublish {
  delay?: number;
  target?: LadderTarget;
  routingKey?: string;
  priority?: number | undefined;
  headers?: Record<string, unknown>;
}

/** A publish on behalf of a queue (declared first; redeclared when unroutable). */
interface QueuePublish extends Publish {
  readonly queueName: string;
}

/** Properties of a publish with neither priority nor headers, shared. */
const NO_PROPERTIES: PublishProperties = Object.freeze({});

interface RecentDeadLetter {
  readonly seq: number;
  readonly reason: string;
  readonly error: unknown;
}

/**
 * RabbitMQ broker (amqplib). Queues are declared as Python Dramatiq declares them; messages are
 * persistent and every publish is confirmed; delays and retry backoffs wait in a ladder of TTL
 * queues (see `delays.ts`), never unacknowledged in a worker; connections recover by themselves.
 * See `brokers/rabbitmq/README.md` for the layout and its guarantees.
 */
export class RabbitmqBroker extends Broker {
  readonly settings: RabbitmqSettings;
  readonly #connector: Connector;
  readonly #publisher: Publisher;
  #admin: Channel | undefined;
  #adminOpening: Promise<Channel> | undefined;
  #exchanges: Promise<void> | undefined;
  readonly #declaring = new Map<string, Promise<void>>();
  /** Queues whose topology is known to exist: the publish fast path skips the await. */
  readonly #declared = new Set<string>();
  readonly #inFlight = new Map<string, number>();
  readonly #prefetched = new Map<string, number>();
  readonly #moving = new Map<string, number>();
  readonly #consumers = new Set<RabbitmqConsumer>();
  readonly #recentDead = new Map<string, RecentDeadLetter[]>();
  #deadSeq = 0;
  /** Per queue, the dead-letter sequence number a `join` or `flush` last accounted for. */
  readonly #deadSeen = new Map<string, number>();
  #closed = false;
  readonly #host: ConsumerHost;

  constructor(options: RabbitmqBrokerOptions = {}) {
    super(withDefaultChain(options));
    this.settings = resolveSettings(options);
    this.#connector = this.newConnector("broker", async () => {});
    this.#publisher = new Publisher(this.#connector, this.logger);
    this.#host = {
      logger: this.logger,
      delayQueuePrefetch: this.settings.delayQueuePrefetch,
      newConnector: (name, setup) => this.newConnector(name, setup),
      ensureQueue: (queueName, redeclare) => {
        if (redeclare && !this.#declaring.has(queueName)) this.#undeclare(queueName);
        return this.#ensureQueue(queueName);
      },
      track: (queueName, prefetched, inFlight) => {
        if (prefetched !== 0) bump(this.#prefetched, queueName, prefetched);
        if (inFlight !== 0) bump(this.#inFlight, queueName, inFlight);
      },
      trackMoving: (queueName, delta) => bump(this.#moving, queueName, delta),
      deadLetter: (queueName, body, reason, error) => this.#deadLetter(queueName, body, reason, error),
      publishMessage: (message, delay) => this.#publishMessage(message, delay),
      moveDelayed: (queueName, body, properties) => this.#moveDelayed(queueName, body, properties),
      consumerClosed: (consumer) => void this.#consumers.delete(consumer),
    };
  }

  /** Publishes written and not yet confirmed by RabbitMQ. */
  get pendingConfirms(): number {
    return this.#publisher.outstanding;
  }

  /** @internal A connector with this broker's URL, TLS and backoff settings. */
  newConnector(name: string, setup: (model: ChannelModel) => Promise<void>): Connector {
    return new Connector(name, connectorSettings(this.settings, name), setup, this.logger);
  }

  // ---- topology ---------------------------------------------------------------------------

  async #adminChannel(): Promise<Channel> {
    if (this.#admin) return this.#admin;
    this.#adminOpening ??= (async () => {
      try {
        const model = await this.#connector.ready();
        const channel = await model.createChannel();
        channel.on("error", (error: Error) => this.logger.warn({ err: error }, "RabbitMQ admin channel error"));
        channel.on("close", () => {
          if (this.#admin === channel) this.#admin = undefined;
        });
        this.#admin = channel;
        return channel;
      } finally {
        this.#adminOpening = undefined;
      }
    })();
    return this.#adminOpening;
  }

  /** Runs `operation` on the admin channel, translating amqplib errors to typed ones. */
  async #withAdmin<T>(operation: (channel: Channel) => Promise<T>): Promise<T> {
    try {
      return await operation(await this.#adminChannel());
    } catch (error) {
      throw translate(error);
    }
  }

  /** Declares `q`, `q.DQ`, `q.XQ` (Dramatiq's arguments) and the queue's delay ladder. Once per broker. */
  #ensureQueue(queueName: string): Promise<void> {
    if (this.#declared.has(queueName)) return Promise.resolve();
    let pending = this.#declaring.get(queueName);
    if (pending === undefined) {
      pending = this.#declare(queueName).then(
        () => {
          this.#declared.add(queueName);
          this.#declaring.delete(queueName);
        },
        (error: unknown) => {
          this.#declaring.delete(queueName);
          throw error;
        },
      );
      this.#declaring.set(queueName, pending);
    }
    return pending;
  }

  async #declare(queueName: string): Promise<void> {
    if (Buffer.byteLength(queueName) > MAX_QUEUE_NAME_BYTES) {
      throw new InvalidOptions(`Queue name ${JSON.stringify(queueName)} is too long for RabbitMQ delays (at most ${MAX_QUEUE_NAME_BYTES} bytes)`);
    }
    this.#exchanges ??= this.#withAdmin(declareLadderExchanges).catch((error: unknown) => {
      this.#exchanges = undefined;
      throw error;
    });
    await this.#exchanges;
    await this.#withAdmin(async (channel) => {
      const queues = dramatiqQueues(queueName, this.settings);
      await Promise.all(queues.map((q) => channel.assertQueue(q.name, { durable: true, arguments: q.arguments })));
      await declareLadderQueues(channel, queueName, delayQueueName(queueName));
    });
  }

  /** Forgets what was declared, so the next use declares again (after a queue was deleted). */
  #undeclare(queueName: string): void {
    this.#declared.delete(queueName);
    this.#exchanges = undefined;
  }

  // ---- publishing -------------------------------------------------------------------------

  protected writeMessage(message: Message, body: string, options: WriteOptions): Promise<void> {
    return this.#send(this.#messagePublish(message, body, options.delay, options.priority));
  }

  /** A bulk send: every message written at once, their confirms counted together. */
  protected override writeMessages(writes: readonly MessageWrite[]): Promise<void> {
    if (this.#closed) return Promise.reject(new BrokerError("RabbitmqBroker is closed"));
    let publishes: QueuePublish[];
    try {
      publishes = writes.map((w) => this.#messagePublish(w.message, w.body, w.options.delay, w.options.priority));
    } catch (error) {
      return Promise.reject(error);
    }
    const undeclared = new Set<string>();
    for (const p of publishes) if (!this.#declared.has(p.queueName)) undeclared.add(p.queueName);
    if (undeclared.size === 0) return this.#publishAll(publishes, false);
    return Promise.all([...undeclared].map((queueName) => this.#ensureQueue(queueName))).then(() => this.#publishAll(publishes, false));
  }

  #publishMessage(message: Message, delay: number): Promise<void> {
    return this.#send(this.#messagePublish(message, this.encode(message), delay, this.priorityOf(message)));
  }

  /** The publish of an encoded message: to `q`, or into the delay ladder. */
  #messagePublish(message: Message, body: string, delay: number, priority: number): QueuePublish {
    const queueName = message.queueName;
    let target: LadderTarget = "q";
    let content = body;
    if (delay > MAX_LADDER_DELAY) {
      // Longer than one pass: wait the maximum, then land on `q.DQ` with the eta for another pass.
      target = "dq";
      const eta = Date.now() + delay;
      content = this.encode(message.copy({ queueName: delayQueueName(queueName), options: { eta } }));
      delay = MAX_LADDER_DELAY;
    }
    return this.#route(queueName, Buffer.from(content), { delay, target, priority: amqpPriority(priority, this.settings.maxPriority) });
  }

  /** Where `content` goes: the default exchange (`routingKey`, else `q`), or the ladder when delayed. */
  #route(queueName: string, content: Buffer, options: RawPublish): QueuePublish {
    const delay = Math.round(options.delay ?? 0);
    const { priority, headers } = options;
    const properties = priority === undefined && headers === undefined ? NO_PROPERTIES : { priority, headers };
    if (delay > 0) {
      const { exchange, routingKey } = ladderRoute(queueName, delay, options.target);
      return { queueName, exchange, routingKey, content, properties };
    }
    return { queueName, exchange: "", routingKey: options.routingKey ?? queueName, content, properties };
  }

  /** Publishes, confirmed, declaring the queue first if this broker has not yet. */
  #send(publish: QueuePublish): Promise<void> {
    if (this.#closed) return Promise.reject(new BrokerError("RabbitmqBroker is closed"));
    if (!this.#declared.has(publish.queueName)) return this.#ensureQueue(publish.queueName).then(() => this.#publishRouted(publish, false));
    return this.#publishRouted(publish, false);
  }

  #publishRouted(publish: QueuePublish, again: boolean): Promise<void> {
    const { exchange, routingKey, content, properties } = publish;
    return this.#publisher
      .publish(exchange, routingKey, content, properties)
      .then((routed) => (routed ? undefined : this.#redeclare([publish], again).then(() => this.#publishRouted(publish, true))));
  }

  #publishAll(publishes: readonly QueuePublish[], again: boolean): Promise<void> {
    return this.#publisher.publishAll(publishes).then((returned) => {
      if (returned.length === 0) return;
      const retry = returned.map((i) => publishes[i]!);
      return this.#redeclare(retry, again).then(() => this.#publishAll(retry, true));
    });
  }

  /**
   * RabbitMQ returned these publishes as unroutable: their queue (or its ladder) was deleted
   * under us. Declares the queues again for one more try; fails when that was the retry.
   */
  #redeclare(returned: readonly QueuePublish[], again: boolean): Promise<void> {
    const first = returned[0]!;
    const where = `${first.exchange || "default exchange"} → ${first.routingKey}`;
    if (again) return Promise.reject(new BrokerError(`RabbitMQ could not route a message for queue ${JSON.stringify(first.queueName)} (${where})`));
    const queues = new Set(returned.map((p) => p.queueName));
    for (const queueName of queues) {
      this.logger.warn({ queue: queueName, route: where, messages: returned.length }, "A message was unroutable; declaring the queue again");
      this.#undeclare(queueName);
    }
    return Promise.all([...queues].map((queueName) => this.#ensureQueue(queueName))).then(() => {});
  }

  /**
   * Puts raw bytes on `q` (or `delay` ms later), bypassing encoding and middleware, as a foreign
   * or broken producer would. For tests and tools.
   */
  async enqueueRaw(queueName: string, body: string | Buffer, options: { delay?: number; priority?: number } = {}): Promise<void> {
    this.assertDeclared(queueName);
    const priority = amqpPriority(options.priority ?? 0, this.settings.maxPriority);
    await this.#send(this.#route(queueName, typeof body === "string" ? Buffer.from(body) : body, { delay: options.delay ?? 0, priority }));
  }

  async #deadLetter(queueName: string, body: Buffer, reason: string, error: unknown): Promise<void> {
    let id: string | undefined;
    try {
      id = this.decode(body).messageId;
    } catch {
      // Undecodable: it gets an id of its own below.
    }
    this.#rememberDead(queueName, reason, error);
    const headers = { [REASON_HEADER]: reason, [DEAD_AT_HEADER]: Date.now(), [DEAD_ID_HEADER]: id ?? `raw-${Date.now().toString(36)}-${(++this.#deadSeq).toString(36)}` };
    await this.#send(this.#route(queueName, body, { routingKey: deadLetterQueueName(queueName), headers }));
  }

  #rememberDead(queueName: string, reason: string, error: unknown): void {
    let recent = this.#recentDead.get(queueName);
    if (recent === undefined) this.#recentDead.set(queueName, (recent = []));
    recent.push({ seq: ++this.#deadSeq, reason, error });
    if (recent.length > RECENT_DEAD_LETTERS) recent.shift();
  }

  async #moveDelayed(queueName: string, body: Buffer, _properties: MessageProperties): Promise<void> {
    let message: Message;
    try {
      message = this.decode(body);
    } catch (error) {
      return this.#deadLetter(queueName, body, describeError(error), error);
    }
    const { eta, ...options } = message.options;
    let delay = 0;
    if (typeof eta === "number" && Number.isFinite(eta)) delay = Math.max(0, eta - Date.now());
    else if (eta !== undefined && eta !== null) this.logger.warn({ queue: queueName, messageId: message.messageId, eta }, "Delayed message has a non-numeric eta; running it now");
    const next = new Message({ ...message, queueName, options });
    await this.#send(this.#messagePublish(next, this.encode(next), delay, this.priorityOf(next)));
  }

  // ---- consuming --------------------------------------------------------------------------

  consume(queueName: string, options: ConsumeOptions): RabbitmqConsumer {
    this.assertDeclared(queueName);
    if (this.#closed) throw new BrokerError("RabbitmqBroker is closed");
    const consumer = new RabbitmqConsumer(this.#host, queueName, options.prefetch);
    this.#consumers.add(consumer);
    return consumer;
  }

  // ---- inspection -------------------------------------------------------------------------

  /**
   * Ready, delayed and dead counts come from RabbitMQ (`q`; `q.DQ` plus the ladder; `q.XQ`);
   * ready also counts deliveries prefetched into this process's consumers but not yet fetched.
   * In-flight counts the deliveries this process's workers fetched and have not settled:
   * RabbitMQ does not report other processes' unacknowledged messages over AMQP.
   */
  async depths(queueName: string): Promise<QueueDepths> {
    this.assertDeclared(queueName);
    await this.#ensureQueue(queueName);
    // Upstream first (delay queue, ladder from the top, then q): a message moving down the
    // ladder while we look is seen in the later queue rather than missed.
    const names = [delayQueueName(queueName), ...levelQueueNames(queueName).reverse(), queueName, deadLetterQueueName(queueName)];
    const counts = await this.#withAdmin((channel) => Promise.all(names.map((name) => channel.checkQueue(name).then((ok) => ok.messageCount))));
    const dead = counts.pop()!;
    const ready = counts.pop()!;
    const delayed = counts.reduce((a, b) => a + b, 0) + (this.#moving.get(queueName) ?? 0);
    return { ready: ready + (this.#prefetched.get(queueName) ?? 0), delayed, inFlight: this.#inFlight.get(queueName) ?? 0, dead };
  }

  /**
   * Waits until `q`, `q.DQ` and the ladder are empty and this process holds no delivery of the
   * queue (several looks in a row, since a message in transit between two queues is briefly in
   * neither). With `failFast`, rejects on the first dead letter: with the actor's own error
   * when this process dead-lettered it since the previous `join` or `flush` of the queue (a
   * message sent just before the join may fail before the join starts), else, when `q.XQ`
   * grows during the join, with a BrokerError carrying the reason.
   */
  async join(queueName: string, options: JoinOptions = {}): Promise<void> {
    try {
      await this.#join(queueName, options);
    } finally {
      this.#deadSeen.set(queueName, this.#deadSeq);
    }
  }

  async #join(queueName: string, options: JoinOptions): Promise<void> {
    const failFast = options.failFast ?? true;
    const deadline = options.timeout === undefined ? Infinity : Date.now() + options.timeout;
    const startSeq = this.#deadSeen.get(queueName) ?? 0;
    const start = await this.depths(queueName);
    let idle = 0;
    for (;;) {
      const depths = await this.depths(queueName);
      if (failFast) {
        const local = this.#recentDead.get(queueName)?.find((d) => d.seq > startSeq);
        if (local) throw local.error ?? new BrokerError(`A message of ${JSON.stringify(queueName)} was dead-lettered: ${local.reason}`);
        if (depths.dead > start.dead) {
          const letters = await this.deadLetters(queueName, start.dead + 1);
          const first = letters[start.dead] ?? letters[letters.length - 1];
          throw new BrokerError(`Message ${first?.id ?? "?"} of ${JSON.stringify(queueName)} was dead-lettered: ${first?.reason ?? "unknown reason"}`);
        }
      }
      idle = depths.ready + depths.delayed + depths.inFlight === 0 ? idle + 1 : 0;
      if (idle >= JOIN_IDLE_CHECKS) return;
      if (Date.now() >= deadline) throw new QueueJoinTimeout(queueName, options.timeout!);
      await sleep(Math.max(0, Math.min(JOIN_POLL_INTERVAL, deadline - Date.now())));
    }
  }

  /**
   * Purges `q`, `q.DQ`, `q.XQ` and the queue's delay ladder, and drops what this process's
   * consumers prefetched but did not start. Deliveries being processed stay with their workers.
   */
  async flush(queueName: string): Promise<void> {
    this.assertDeclared(queueName);
    await this.#ensureQueue(queueName);
    const discard = () => {
      for (const consumer of this.#consumers) if (consumer.queueName === queueName) consumer.discardPrefetched();
    };
    discard();
    const names = [queueName, delayQueueName(queueName), deadLetterQueueName(queueName), ...levelQueueNames(queueName)];
    await this.#withAdmin((channel) => Promise.all(names.map((name) => channel.purgeQueue(name))));
    // Deliveries RabbitMQ pushed to our consumers before the purge may land only now.
    discard();
    this.#recentDead.delete(queueName);
    this.#deadSeen.set(queueName, this.#deadSeq);
  }

  /**
   * Reads `q.XQ` without consuming it (basic.get, then the channel closes and RabbitMQ puts the
   * messages back in place). Reasons come from our header, or from `x-death` for messages that
   * Python Dramatiq dead-lettered.
   */
  async deadLetters(queueName: string, limit = Infinity): Promise<DeadLetter[]> {
    this.assertDeclared(queueName);
    await this.#ensureQueue(queueName);
    const model = await this.#connector.ready();
    let channel: Channel | undefined;
    try {
      channel = await model.createChannel();
      channel.on("error", () => {});
      const letters: DeadLetter[] = [];
      while (letters.length < limit) {
        const message = await channel.get(deadLetterQueueName(queueName), { noAck: false });
        if (message === false) break;
        letters.push(readDeadLetter(message, (body) => this.decode(body).messageId));
      }
      return letters;
    } catch (error) {
      throw translate(error);
    } finally {
      await channel?.close().catch(() => {});
    }
  }

  /** Moves dead letters from `q.XQ` back to `q`, each acked in `q.XQ` once its copy is confirmed (see `requeue-dead.ts`). */
  async requeueDeadLetters(queueName: string, ids?: readonly string[]): Promise<number> {
    this.assertDeclared(queueName);
    await this.#ensureQueue(queueName);
    const wanted = ids === undefined ? undefined : new Set(ids);
    return requeueDeadLetters(await this.#connector.ready(), queueName, {
      select: (letter) => wanted === undefined || wanted.has(letter.id),
      revive: (_letter, content) => {
        const message = this.reviveDeadLetter(content);
        if (message === undefined) return { body: content, priority: amqpPriority(0, this.settings.maxPriority) };
        return { body: Buffer.from(this.encode(message)), priority: amqpPriority(this.priorityOf(message), this.settings.maxPriority) };
      },
      decodeId: (body) => this.decode(body).messageId,
      ...(wanted === undefined ? {} : { wanted: wanted.size }),
    });
  }

  /** Closes open consumers, waits for outstanding publisher confirms, then disconnects. */
  protected async closeConnections(): Promise<void> {
    if (this.#closed) return;
    for (const consumer of [...this.#consumers]) await consumer.close().catch(() => {});
    await this.#publisher.whenIdle();
    this.#closed = true;
    await this.#connector.close();
  }

  /** @internal Destroys the broker connection's socket (for fault tests). */
  dropConnectionForTests(): void {
    const stream = (this.#connector.model?.connection as unknown as { stream?: { destroy(error?: Error): void } } | undefined)?.stream;
    stream?.destroy(new Error("connection dropped for tests"));
  }
}

function bump(map: Map<string, number>, key: string, delta: number): void {
  const next = (map.get(key) ?? 0) + delta;
  if (next <= 0) map.delete(key);
  else map.set(key, next);
}
