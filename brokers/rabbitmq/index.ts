import type { ChannelModel } from "amqplib";
import { Broker, type ConsumeOptions, type DeadLetter, type MessageWrite, type QueueDepths, type QueueLook, type WriteOptions } from "../../lib/broker.ts";
import { BrokerError } from "../../lib/errors.ts";
import type { Message } from "../../lib/message.ts";
import { Connector } from "./connector.ts";
import { RabbitmqConsumer, type ConsumerHost } from "./consumer.ts";
import { Declarations } from "./declarations.ts";
import { Inspector, type DeadLetterCursor } from "./inspection.ts";
import { consumerInternals, registerBroker } from "./internals.ts";
import { LocalCounts } from "./local-counts.ts";
import { connectorSettings, resolveSettings, type RabbitmqBrokerOptions, type RabbitmqSettings } from "./options.ts";
import { Publisher } from "./publisher.ts";
import { RecentDeadLetters } from "./recent-dead-letters.ts";
import { Sender, type QueuePublish } from "./sender.ts";
import { amqpPriority } from "./topology.ts";
import { withDefaultChain } from "../../middleware/defaults.ts";

export type { RabbitmqBrokerOptions } from "./options.ts";
export { RabbitmqConsumer, type RabbitmqDelivery } from "./consumer.ts";
export { MAX_LADDER_DELAY } from "./delays.ts";

/**
 * RabbitMQ broker (amqplib). Queues are declared as Python Dramatiq declares them; messages are
 * persistent and every publish is confirmed; delays and retry backoffs wait in a ladder of TTL
 * queues (see `delays.ts`), never unacknowledged in a worker; connections recover by themselves.
 * See `brokers/rabbitmq/README.md` for the layout and its guarantees.
 */
export class RabbitmqBroker extends Broker {
  /** The resolved settings (defaults applied, validated). */
  readonly settings: RabbitmqSettings;
  readonly #connector: Connector;
  readonly #publisher: Publisher;
  readonly #declarations: Declarations;
  readonly #sender: Sender;
  readonly #inspector: Inspector;
  readonly #counts = new LocalCounts();
  readonly #consumers = new Set<RabbitmqConsumer>();
  #closed = false;
  readonly #host: ConsumerHost;

  constructor(options: RabbitmqBrokerOptions = {}) {
    super(withDefaultChain(options));
    this.settings = resolveSettings(options);
    const newConnector = (name: string, setup: (model: ChannelModel) => Promise<void>) => new Connector(name, connectorSettings(this.settings, name), setup, this.logger);
    this.#connector = newConnector("broker", async () => {});
    this.#publisher = new Publisher(this.#connector, this.logger);
    this.#declarations = new Declarations(this.#connector, this.settings, this.logger);
    const deadLetters = new RecentDeadLetters((queueName, id, error) => this.rememberDeadLetter(queueName, id, error));
    const { maxPriority } = this.settings;
    this.#sender = new Sender({ publisher: this.#publisher, declarations: this.#declarations, codec: this, maxPriority, deadLetters, logger: this.logger });
    this.#inspector = new Inspector({
      connector: this.#connector,
      declarations: this.#declarations,
      counts: this.#counts,
      deadLetters,
      codec: this,
      maxPriority,
      discardPrefetched: (queueName) => {
        for (const consumer of this.#consumers) if (consumer.queueName === queueName) consumerInternals(consumer).discardPrefetched();
      },
      busyHere: (queueName) => {
        let busy = 0;
        for (const consumer of this.#consumers) if (consumer.queueName === queueName && consumerInternals(consumer).busyMarked()) busy++;
        return busy;
      },
      busySettled: async (queueName) => {
        for (const consumer of this.#consumers) if (consumer.queueName === queueName) await consumerInternals(consumer).busySettled();
      },
    });
    const declarations = this.#declarations;
    this.#host = {
      logger: this.logger,
      delayQueuePrefetch: this.settings.delayQueuePrefetch,
      newConnector,
      ensureQueue: (queueName, redeclare) => {
        if (redeclare && !declarations.isDeclaring(queueName)) declarations.undeclare(queueName);
        return declarations.ensure(queueName);
      },
      track: (queueName, prefetched, inFlight) => this.#counts.track(queueName, prefetched, inFlight),
      trackMoving: (queueName, delta) => this.#counts.trackMoving(queueName, delta),
      deadLetter: (queueName, body, reason, error) => this.#sender.deadLetter(queueName, body, reason, error),
      publishMessage: (message, delay) => this.#sender.publishMessage(message, delay),
      moveDelayed: (queueName, body) => this.#sender.moveDelayed(queueName, body),
      consumerClosed: (consumer) => void this.#consumers.delete(consumer),
    };
    registerBroker(this, { connector: this.#connector, newConnector });
  }

  /** Publishes written and not yet confirmed by RabbitMQ. */
  get pendingConfirms(): number {
    return this.#publisher.outstanding;
  }

  // ---- publishing (sender.ts) ---------------------------------------------------------------

  protected writeMessage(message: Message, body: string, options: WriteOptions): Promise<void> {
    return this.#sender.send(this.#sender.messagePublish(message, body, options.delay, options.priority));
  }

  /** A bulk send: every message written at once, their confirms counted together. */
  protected override writeMessages(writes: readonly MessageWrite[]): Promise<void> {
    if (this.#closed) return Promise.reject(new BrokerError("RabbitmqBroker is closed"));
    let publishes: QueuePublish[];
    try {
      publishes = writes.map((w) => this.#sender.messagePublish(w.message, w.body, w.options.delay, w.options.priority));
    } catch (error) {
      return Promise.reject(error);
    }
    return this.#sender.sendAll(publishes);
  }

  /**
   * Puts raw bytes on `q` (or `delay` ms later), bypassing encoding and middleware, as a foreign
   * or broken producer would. For tests and tools.
   */
  async enqueueRaw(queueName: string, body: string | Buffer, options: { delay?: number; priority?: number } = {}): Promise<void> {
    this.assertDeclared(queueName);
    const priority = amqpPriority(options.priority ?? 0, this.settings.maxPriority);
    await this.#sender.send(this.#sender.route(queueName, typeof body === "string" ? Buffer.from(body) : body, { delay: options.delay ?? 0, priority }));
  }

  // ---- consuming (consumer.ts) --------------------------------------------------------------

  consume(queueName: string, options: ConsumeOptions): RabbitmqConsumer {
    this.assertDeclared(queueName);
    if (this.#closed) throw new BrokerError("RabbitmqBroker is closed");
    const consumer = new RabbitmqConsumer(this.#host, queueName, options.prefetch);
    this.#consumers.add(consumer);
    return consumer;
  }

  // ---- inspection (inspection.ts) -----------------------------------------------------------

  /**
   * Ready, delayed and dead counts come from RabbitMQ (`q`; `q.DQ` plus the ladder; `q.XQ`);
   * ready also counts deliveries prefetched into this broker's consumers but not yet fetched.
   * In-flight counts the deliveries this broker's workers fetched and have not settled, plus one
   * for each consumer elsewhere that holds messages of the queue: AMQP reports no more (see
   * `busy-marker.ts`). Exact here, a lower bound across processes, 0 exactly when no dramats
   * consumer anywhere holds a message of the queue.
   */
  async depths(queueName: string): Promise<QueueDepths> {
    await this.#declared(queueName);
    return this.#inspector.depths(queueName);
  }

  /** This process's dead letters are numbered; others' are told by `q.XQ`'s count (see `inspection.ts`). */
  protected deadLetterCursor(queueName: string): DeadLetterCursor | Promise<DeadLetterCursor> {
    return this.#inspector.cursor(queueName);
  }

  /**
   * Idle when `q`, `q.DQ` and the ladder are empty and no dramats consumer, in this process or
   * another, holds a delivery of the queue, on two looks in a row (a message in transit between
   * two queues is briefly in neither).
   */
  protected async lookAtQueue(queueName: string, after: DeadLetterCursor, deadLetters: boolean): Promise<QueueLook<DeadLetterCursor>> {
    await this.#declared(queueName);
    return this.#inspector.look(queueName, after, deadLetters);
  }

  /**
   * Purges `q`, `q.DQ`, `q.XQ` and the queue's delay ladder, and drops what this process's
   * consumers prefetched but did not start. Deliveries being processed stay with their workers.
   */
  protected async flushQueue(queueName: string): Promise<void> {
    await this.#declared(queueName);
    return this.#inspector.flush(queueName);
  }

  /**
   * Reads `q.XQ` without consuming it (basic.get, then the channel closes and RabbitMQ puts the
   * messages back in place). Reasons come from our header, or from `x-death` for messages that
   * Python Dramatiq dead-lettered.
   */
  async deadLetters(queueName: string, limit = Infinity): Promise<DeadLetter[]> {
    await this.#declared(queueName);
    return this.#inspector.deadLetters(queueName, limit);
  }

  /** Moves dead letters from `q.XQ` back to `q`, each acked in `q.XQ` once its copy is confirmed (see `requeue-dead.ts`). */
  async requeueDeadLetters(queueName: string, ids?: readonly string[]): Promise<number> {
    await this.#declared(queueName);
    return this.#inspector.requeueDeadLetters(queueName, ids);
  }

  /** Closes open consumers, waits for outstanding publisher confirms, then disconnects. */
  protected async closeConnections(): Promise<void> {
    if (this.#closed) return;
    for (const consumer of [...this.#consumers]) await consumer.close().catch(() => {});
    await this.#publisher.whenIdle();
    this.#closed = true;
    this.#sender.closed = true;
    await this.#connector.close();
  }

  async #declared(queueName: string): Promise<void> {
    this.assertDeclared(queueName);
    await this.#declarations.ensure(queueName);
  }
}
