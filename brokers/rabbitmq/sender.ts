import type { Broker } from "../../lib/broker.ts";
import { BrokerError, describeError } from "../../lib/errors.ts";
import type { Logger } from "../../lib/logging.ts";
import { Message } from "../../lib/message.ts";
import { deadLetterQueueName, delayQueueName } from "../../lib/queue-names.ts";
import { DEAD_AT_HEADER, DEAD_ID_HEADER, ETA_HEADER, REASON_HEADER } from "./dead-letters.ts";
import type { Declarations } from "./declarations.ts";
import { ladderRoute, MAX_LADDER_DELAY, type LadderTarget } from "./delays.ts";
import type { Publish, Publisher, PublishProperties } from "./publisher.ts";
import type { RecentDeadLetters } from "./recent-dead-letters.ts";
import { amqpPriority } from "./topology.ts";

/** Where and how a raw body is published (see {@link Sender.route}). */
export interface RawPublish {
  delay?: number;
  target?: LadderTarget;
  routingKey?: string;
  priority?: number | undefined;
  headers?: Record<string, unknown>;
}

/** A publish on behalf of a queue (declared first; redeclared when unroutable). */
export interface QueuePublish extends Publish {
  readonly queueName: string;
}

/** Properties of a publish with neither priority nor headers, shared. */
const NO_PROPERTIES: PublishProperties = Object.freeze({});

/** What the sender uses of its broker: the message codec and priorities. */
type Codec = Pick<Broker, "encode" | "decode" | "priorityOf">;

/**
 * Publishing on behalf of queues: routes a message to `q`, into the delay ladder or to `q.XQ`,
 * declares the queue first if this broker has not, and when RabbitMQ returns a publish as
 * unroutable (the queue was deleted under us) declares it again for one more try.
 */
export class Sender {
  readonly #publisher: Publisher;
  readonly #declarations: Declarations;
  readonly #codec: Codec;
  readonly #maxPriority: number | undefined;
  readonly #deadLetters: RecentDeadLetters;
  readonly #log: Logger;
  closed = false;

  constructor(options: { publisher: Publisher; declarations: Declarations; codec: Codec; maxPriority: number | undefined; deadLetters: RecentDeadLetters; logger: Logger }) {
    this.#publisher = options.publisher;
    this.#declarations = options.declarations;
    this.#codec = options.codec;
    this.#maxPriority = options.maxPriority;
    this.#deadLetters = options.deadLetters;
    this.#log = options.logger;
  }

  /**
   * The publish of an encoded message: to `q`, or into the delay ladder. A delayed one carries
   * its eta in the header {@link ETA_HEADER} (kept through the ladder's dead-lettering), for
   * the wait metric; the body stays what Dramatiq writes. `eta`: a known one (a `.DQ` message).
   */
  messagePublish(message: Message, body: string, delay: number, priority: number, eta?: number): QueuePublish {
    const queueName = message.queueName;
    let target: LadderTarget = "q";
    let content = body;
    const due = eta ?? (delay > 0 ? Date.now() + delay : undefined);
    if (delay > MAX_LADDER_DELAY) {
      // Longer than one pass: wait the maximum, then land on `q.DQ` with the eta for another pass.
      target = "dq";
      content = this.#codec.encode(message.copy({ queueName: delayQueueName(queueName), options: { eta: due } }));
      delay = MAX_LADDER_DELAY;
    }
    const headers = due === undefined ? undefined : { [ETA_HEADER]: due };
    return this.route(queueName, Buffer.from(content), { delay, target, priority: amqpPriority(priority, this.#maxPriority), headers });
  }

  /** Where `content` goes: the default exchange (`routingKey`, else `q`), or the ladder when delayed. */
  route(queueName: string, content: Buffer, options: RawPublish): QueuePublish {
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
  send(publish: QueuePublish): Promise<void> {
    if (this.closed) return Promise.reject(new BrokerError("RabbitmqBroker is closed"));
    if (!this.#declarations.isDeclared(publish.queueName)) return this.#declarations.ensure(publish.queueName).then(() => this.#publishRouted(publish, false));
    return this.#publishRouted(publish, false);
  }

  /** Publishes all at once, their confirms counted together; declares their queues first if needed. */
  sendAll(publishes: QueuePublish[]): Promise<void> {
    if (this.closed) return Promise.reject(new BrokerError("RabbitmqBroker is closed"));
    const undeclared = new Set<string>();
    for (const p of publishes) if (!this.#declarations.isDeclared(p.queueName)) undeclared.add(p.queueName);
    if (undeclared.size === 0) return this.#publishAll(publishes, false);
    return Promise.all([...undeclared].map((queueName) => this.#declarations.ensure(queueName))).then(() => this.#publishAll(publishes, false));
  }

  /** Publishes a message (a retry) after `delay` ms, confirmed. */
  publishMessage(message: Message, delay: number, eta?: number): Promise<void> {
    return this.send(this.messagePublish(message, this.#codec.encode(message), delay, this.#codec.priorityOf(message), eta));
  }

  /** Publishes `body` to `q.XQ` with the reason, confirmed. */
  async deadLetter(queueName: string, body: Buffer, reason: string, error: unknown): Promise<void> {
    let id: string | undefined;
    try {
      id = this.#codec.decode(body).messageId;
    } catch {
      // Undecodable: it gets an id of its own below.
    }
    id ??= `raw-${Date.now().toString(36)}-${this.#deadLetters.next().toString(36)}`;
    const headers = { [REASON_HEADER]: reason, [DEAD_AT_HEADER]: Date.now(), [DEAD_ID_HEADER]: id };
    await this.send(this.route(queueName, body, { routingKey: deadLetterQueueName(queueName), headers }));
    // Once confirmed, so that a join that counts q.XQ after it recognises it as this process's.
    this.#deadLetters.record(queueName, id, reason, error);
  }

  /** Sends a message taken from `q.DQ` on its way: to `q` if due, else into the delay ladder. */
  async moveDelayed(queueName: string, body: Buffer): Promise<void> {
    let message: Message;
    try {
      message = this.#codec.decode(body);
    } catch (error) {
      return this.deadLetter(queueName, body, describeError(error), error);
    }
    const { eta, ...options } = message.options;
    let delay = 0;
    const known = typeof eta === "number" && Number.isFinite(eta);
    if (known) delay = Math.max(0, eta - Date.now());
    else if (eta !== undefined && eta !== null) this.#log.warn({ queue: queueName, messageId: message.messageId, eta }, "Delayed message has a non-numeric eta; running it now");
    const next = new Message({ ...message, queueName, options });
    await this.publishMessage(next, delay, known ? eta : undefined);
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
      this.#log.warn({ queue: queueName, route: where, messages: returned.length }, "A message was unroutable; declaring the queue again");
      this.#declarations.undeclare(queueName);
    }
    return Promise.all([...queues].map((queueName) => this.#declarations.ensure(queueName))).then(() => {});
  }
}
