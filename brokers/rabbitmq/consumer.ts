import type { Channel, ChannelModel, ConsumeMessage, MessageProperties } from "amqplib";
import { Consumer, type Delivery } from "../../lib/broker.ts";
import type { Logger } from "../../lib/logging.ts";
import type { Message } from "../../lib/message.ts";
import { delayQueueName } from "../../lib/queue-names.ts";
import { AckBatch } from "./acks.ts";
import { BusyMarker } from "./busy-marker.ts";
import { ChannelLimit, GlobalQosRefused, GlobalQosSupport } from "./channel-limit.ts";
import type { Connector } from "./connector.ts";
import { ETA_HEADER } from "./dead-letters.ts";
import { registerConsumer } from "./internals.ts";

/** A delivery remembers the channel it came on: acks are only ever sent on that channel. */
export interface RabbitmqDelivery extends Delivery {
  readonly body: Buffer;
  readonly redelivered: boolean;
  /** The amqplib message, with its delivery tag and properties. */
  readonly raw: ConsumeMessage;
}

/** Internal state of a delivery: its channel's acks, and whether the worker fetched it. */
interface TrackedDelivery extends RabbitmqDelivery {
  readonly acks: AckBatch;
  fetched: boolean;
  settled: boolean;
}

/** What a consumer needs from its broker. */
export interface ConsumerHost {
  readonly logger: Logger;
  readonly delayQueuePrefetch: number;
  newConnector(name: string, setup: (model: ChannelModel) => Promise<void>): Connector;
  /** Declares the queue's topology (once per broker, or again with `redeclare`). */
  ensureQueue(queueName: string, redeclare?: boolean): Promise<void>;
  /**
   * Counts deliveries this process holds unacknowledged (for depths and join): `prefetched`
   * ones wait in the consumer's buffer, `inFlight` ones were fetched by the worker.
   */
  track(queueName: string, prefetched: number, inFlight: number): void;
  /** Counts `.DQ` messages being moved into the ladder by this process. */
  trackMoving(queueName: string, delta: number): void;
  /** Publishes `body` to `q.XQ` with the reason, confirmed. */
  deadLetter(queueName: string, body: Buffer, reason: string, error: unknown): Promise<void>;
  /** Publishes a message (a retry) after `delay` ms, confirmed. */
  publishMessage(message: Message, delay: number): Promise<void>;
  /** Sends a message taken from `q.DQ` on its way: to `q` if due, else into the delay ladder. */
  moveDelayed(queueName: string, body: Buffer, properties: MessageProperties): Promise<void>;
  consumerClosed(consumer: RabbitmqConsumer): void;
}

/**
 * Consumes `q` (manual acks, prefetch) and `q.DQ` on a connection of its own, which reconnects
 * with backoff. Deliveries pushed by RabbitMQ wait in a local buffer until fetched.
 *
 * When the channel dies (connection lost, protocol error, consumer_timeout), every delivery of
 * that channel is forgotten: RabbitMQ requeues them, and acks, nacks and retries for them are
 * dropped rather than sent on the new channel, where their delivery tags would mean other
 * messages. The redelivered copies come with `redelivered = true`.
 *
 * Messages on `q.DQ` (Python producers put delayed messages there, with an `eta`) are not handed
 * to the worker: each is published on at once (to `q` when due, else into the delay ladder) and
 * then acked, so none is held for longer than a publish round trip.
 *
 * How many deliveries RabbitMQ pushes follows the worker's prefetch window: `prefetch` is where
 * the channel's limit starts and the lowest it goes, and each `fetch(max)` asks for room for
 * what the worker holds plus `max` (see `channel-limit.ts`). When the limit goes down, buffered
 * deliveries beyond it are given back, so other consumers can take them; a `requeue` of fetched
 * deliveries (a worker giving back what it will not start soon) lowers the limit first, so that
 * RabbitMQ does not push them straight back here.
 */
export class RabbitmqConsumer extends Consumer {
  /** The queue this consumer reads. */
  readonly queueName: string;
  readonly #host: ConsumerHost;
  readonly #prefetch: number;
  readonly #connector: Connector;
  readonly #log: Logger;
  /** Acks of the channel consuming `q`; a new one per channel. */
  #acks: AckBatch | undefined;
  /** The prefetch limit of that channel. */
  #limit: ChannelLimit | undefined;
  readonly #globalQos = new GlobalQosSupport();
  /** Shows other processes, through `q.IF`, whether this consumer holds deliveries. */
  #marker: BusyMarker | undefined;
  /** The channel consuming `q.DQ` (apart, so that `multiple` acks on `q` never touch it). */
  #delayChannel: Channel | undefined;
  #buffer: TrackedDelivery[] = [];
  /** Deliveries of the current channel not yet acked, nacked or requeued (buffered ones included). */
  readonly #unsettled = new Set<TrackedDelivery>();
  readonly #moves = new Set<Promise<void>>();
  #consumerTag: string | undefined;
  #delayConsumerTag: string | undefined;
  #waiters = new Set<() => void>();
  #closing = false;
  #setups = 0;

  /** @internal Consumers are built by their broker's `consume()`. */
  constructor(host: ConsumerHost, queueName: string, prefetch: number) {
    super();
    this.queueName = queueName;
    this.#host = host;
    this.#prefetch = prefetch;
    this.#log = host.logger;
    this.#connector = host.newConnector(`consumer ${queueName}`, (model) => this.#setup(model));
    this.#connector.start();
    const unsettled = this.#unsettled;
    registerConsumer(this, {
      get held() {
        return unsettled.size;
      },
      busyMarked: () => this.#marker?.counted ?? false,
      busySettled: () => this.#marker?.settled() ?? Promise.resolve(),
      discardPrefetched: () => this.#discardPrefetched(),
      provokeChannelError: () => this.#provokeChannelError(),
      abandon: () => this.#abandon(),
    });
  }

  async #setup(model: ChannelModel): Promise<void> {
    // On a reconnection the server may have lost the queues (a wiped node, a deleted queue).
    await this.#host.ensureQueue(this.queueName, this.#setups++ > 0);
    // The delay channel first: it carries the busy marker, which must exist before any delivery.
    const delayChannel = await this.#openChannel(model);
    this.#delayChannel = delayChannel;
    this.#marker = new BusyMarker(delayChannel, this.queueName);
    await delayChannel.prefetch(this.#host.delayQueuePrefetch);

    const channel = await this.#openChannel(model);
    const acks = new AckBatch(channel, () => this.#connector.batchWrites());
    this.#acks = acks;
    const limit = new ChannelLimit(channel, this.#prefetch, this.#globalQos, (applied) => this.#limitApplied(limit, applied));
    this.#limit = limit;
    await limit.start().catch((error: unknown) => {
      if (error instanceof GlobalQosRefused) this.#log.warn({ err: error.cause, queue: this.queueName }, error.message);
      throw error;
    });
    const { consumerTag } = await channel.consume(this.queueName, (message) => this.#onDelivery(acks, message), { noAck: false });
    this.#consumerTag = consumerTag;

    const delayed = await delayChannel.consume(delayQueueName(this.queueName), (message) => this.#onDelayed(delayChannel, message), { noAck: false });
    this.#delayConsumerTag = delayed.consumerTag;
  }

  async #openChannel(model: ChannelModel): Promise<Channel> {
    const channel = await model.createChannel();
    channel.on("error", (error: Error) => this.#log.warn({ err: error, queue: this.queueName }, "RabbitMQ consumer channel error"));
    channel.on("close", () => this.#onChannelClosed(channel));
    return channel;
  }

  #onDelivery(acks: AckBatch, message: ConsumeMessage | null): void {
    if (acks !== this.#acks) return;
    if (message === null) return this.#cancelledByServer();
    const delivery: TrackedDelivery = {
      body: message.content,
      redelivered: message.fields.redelivered,
      eta: etaOf(message),
      raw: message,
      acks,
      fetched: false,
      settled: false,
    };
    acks.received(delivery);
    this.#unsettled.add(delivery);
    this.#marker?.set(true);
    this.#host.track(this.queueName, 1, 0);
    this.#buffer.push(delivery);
    this.#wake();
  }

  #onDelayed(channel: Channel, message: ConsumeMessage | null): void {
    if (channel !== this.#delayChannel) return;
    if (message === null) return this.#cancelledByServer();
    const queueName = this.queueName;
    this.#host.trackMoving(queueName, 1);
    const move: Promise<void> = this.#host
      .moveDelayed(queueName, message.content, message.properties)
      .then(
        () => {
          if (channel === this.#delayChannel) channel.ack(message);
        },
        (error: unknown) => {
          this.#log.error({ err: error, queue: queueName }, "Moving a message out of the delay queue failed; RabbitMQ will redeliver it");
          // Give it back after a pause so that a persistent failure does not spin.
          setTimeout(() => {
            if (channel === this.#delayChannel) channel.nack(message, false, true);
          }, 1_000).unref();
        },
      )
      .finally(() => {
        this.#host.trackMoving(queueName, -1);
        this.#moves.delete(move);
      });
    this.#moves.add(move);
  }

  #cancelledByServer(): void {
    // The queue was deleted under us: reconnecting redeclares it.
    this.#log.warn({ queue: this.queueName }, "RabbitMQ cancelled the consumer; reconnecting");
    this.#connector.reset();
  }

  #onChannelClosed(channel: Channel): void {
    if (channel === this.#acks?.channel) this.#forgetDeliveries();
    else if (channel === this.#delayChannel) this.#forgetDelayChannel();
    else return;
    // A channel closed by the server while the connection lives (a protocol error, a
    // consumer timeout): start over on a fresh connection.
    if (!this.#closing) this.#connector.reset();
  }

  /** The delay channel is gone, and the busy marker it carried with it. */
  #forgetDelayChannel(): void {
    this.#delayChannel = undefined;
    this.#marker?.kill();
  }

  /** The channel is gone: RabbitMQ requeues its deliveries, so stop counting and never ack them. */
  #forgetDeliveries(): void {
    this.#acks?.kill();
    this.#acks = undefined;
    this.#limit?.kill();
    this.#limit = undefined;
    this.#marker?.kill();
    this.#marker = undefined;
    if (this.#unsettled.size > 0) {
      const buffered = this.#buffer.length;
      this.#host.track(this.queueName, -buffered, -(this.#unsettled.size - buffered));
    }
    this.#unsettled.clear();
    this.#buffer = [];
  }

  #wake(): void {
    if (this.#waiters.size === 0) return;
    const waiters = [...this.#waiters];
    this.#waiters.clear();
    for (const wake of waiters) wake();
  }

  async fetch(max: number, timeout: number): Promise<RabbitmqDelivery[]> {
    if (this.#closing) return [];
    this.#limit?.want(this.#unsettled.size - this.#buffer.length + max);
    if (this.#buffer.length === 0) {
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          this.#waiters.delete(done);
          resolve();
        };
        const timer = setTimeout(done, timeout);
        this.#waiters.add(done);
      });
      if (this.#closing) return [];
    }
    const taken = this.#buffer.length <= max ? this.#buffer.splice(0) : this.#buffer.splice(0, max);
    for (const d of taken) d.fetched = true;
    if (taken.length > 0) this.#host.track(this.queueName, -taken.length, taken.length);
    return taken;
  }

  /** Marks a delivery settled; false when it was settled already or its channel died. */
  #settle(d: TrackedDelivery): boolean {
    if (!this.#unsettled.delete(d)) return false;
    d.settled = true;
    if (this.#unsettled.size === 0) this.#marker?.set(false);
    if (d.fetched) this.#host.track(this.queueName, 0, -1);
    else {
      this.#host.track(this.queueName, -1, 0);
      const at = this.#buffer.indexOf(d);
      if (at >= 0) this.#buffer.splice(at, 1);
    }
    return true;
  }

  async ack(delivery: Delivery): Promise<void> {
    const d = delivery as TrackedDelivery;
    // Settled already, or its channel died (RabbitMQ redelivers it): nothing to send.
    if (this.#settle(d)) d.acks.ack(d);
  }

  async nack(delivery: Delivery, reason: string, error?: unknown): Promise<void> {
    const d = delivery as TrackedDelivery;
    if (!this.#unsettled.has(d)) return;
    // Not atomic on AMQP: if the connection drops after the dead letter is confirmed and before
    // the ack arrives, the message is redelivered too (and may be dead-lettered twice).
    await this.#host.deadLetter(this.queueName, d.body, reason, error);
    await this.ack(d);
  }

  async retry(delivery: Delivery, message: Message, delay: number): Promise<void> {
    const d = delivery as TrackedDelivery;
    if (!this.#unsettled.has(d)) return;
    // Publish-then-ack: a crash in between leaves both the retry and the redelivered original.
    await this.#host.publishMessage(message, delay);
    await this.ack(d);
  }

  async requeue(deliveries: Delivery[]): Promise<void> {
    const limit = this.#limit;
    if (!this.#closing && limit !== undefined && limit.target > limit.floor) {
      let fetched = 0;
      for (const delivery of deliveries) if ((delivery as TrackedDelivery).fetched && this.#unsettled.has(delivery as TrackedDelivery)) fetched++;
      // Lower the limit first: with room left under the old one, RabbitMQ would push them straight back here.
      if (fetched > 0) await limit.lower(this.#unsettled.size - this.#buffer.length - fetched);
    }
    for (const delivery of deliveries) {
      const d = delivery as TrackedDelivery;
      if (this.#settle(d)) d.acks.requeue(d);
    }
  }

  /** RabbitMQ applied a new limit: buffered deliveries beyond it go back to the queue, latest first. */
  #limitApplied(limit: ChannelLimit, applied: number): void {
    if (limit !== this.#limit || this.#closing) return;
    const excess = Math.min(this.#buffer.length, this.#unsettled.size - applied);
    if (excess <= 0) return;
    const back = this.#buffer.splice(this.#buffer.length - excess);
    for (const d of back.reverse()) if (this.#settle(d)) d.acks.requeue(d);
  }

  /** Acks (drops) the deliveries waiting in the buffer: `flush` for what this consumer prefetched. */
  #discardPrefetched(): void {
    for (const d of [...this.#buffer]) void this.ack(d);
  }

  /**
   * Makes RabbitMQ close the consuming channel with a protocol error (an ack for an unknown
   * delivery tag), as a real bug or a consumer timeout would. For fault specs (`testing.ts`).
   */
  #provokeChannelError(): void {
    this.#acks?.channel.ack({ fields: { deliveryTag: 2 ** 31 } } as unknown as ConsumeMessage);
  }

  interrupt(): void {
    this.#wake();
  }

  /** Stops consuming, gives buffered deliveries back, waits for moves in progress, and disconnects. */
  async close(): Promise<void> {
    if (this.#closing) return;
    this.#closing = true;
    this.#wake();
    const delayChannel = this.#delayChannel;
    if (delayChannel && this.#delayConsumerTag !== undefined) await delayChannel.cancel(this.#delayConsumerTag).catch(() => {});
    const acks = this.#acks;
    if (acks && this.#consumerTag !== undefined) {
      await acks.channel.cancel(this.#consumerTag).catch(() => {});
      await this.requeue([...this.#buffer]);
      acks.flush();
    }
    await Promise.allSettled([...this.#moves]);
    this.#forgetDeliveries();
    this.#delayChannel = undefined;
    await this.#connector.close();
    this.#host.consumerClosed(this);
  }

  /**
   * Vanishes like a killed process: the socket is destroyed with no cleanup, so nothing is
   * acked or requeued by us; RabbitMQ requeues the unacknowledged deliveries once it notices.
   * For fault specs (`testing.ts`).
   */
  #abandon(): void {
    this.#closing = true;
    this.#wake();
    this.#forgetDeliveries();
    this.#delayChannel = undefined;
    this.#connector.destroy();
    this.#host.consumerClosed(this);
  }
}

/** The eta header a delayed message carries (sender.ts), when it is a number. */
function etaOf(message: ConsumeMessage): number | undefined {
  const eta: unknown = message.properties.headers?.[ETA_HEADER];
  return typeof eta === "number" ? eta : undefined;
}
