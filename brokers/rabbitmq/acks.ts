import type { Channel, Message } from "amqplib";

/** A delivery as the ack batcher sees it. `settled` is set by the consumer before `ack`/`requeue`. */
export interface AckableDelivery {
  readonly raw: Message;
  settled: boolean;
}

const tagOf = (d: AckableDelivery): number => d.raw.fields.deliveryTag;

/**
 * The acknowledgements of one channel. Acks are sent on the next turn of the event loop, and
 * those below the oldest delivery still held become a single `multiple` ack, which spares
 * RabbitMQ most ack frames under load. Requeues go out at once. Once the channel is gone the
 * batch drops everything: delivery tags mean nothing on any other channel.
 */
export class AckBatch {
  readonly channel: Channel;
  /** Called after several frames are handed to amqplib at once (the connection's write batching). */
  readonly #wrote: () => void;
  /** Deliveries in tag order (RabbitMQ numbers them in the order it sends them). */
  #order: AckableDelivery[] = [];
  #head = 0;
  #pending: AckableDelivery[] = [];
  #scheduled = false;
  #dead = false;

  constructor(channel: Channel, wrote: () => void = () => {}) {
    this.channel = channel;
    this.#wrote = wrote;
  }

  get dead(): boolean {
    return this.#dead;
  }

  received(delivery: AckableDelivery): void {
    this.#order.push(delivery);
  }

  ack(delivery: AckableDelivery): void {
    if (this.#dead) return;
    this.#pending.push(delivery);
    if (!this.#scheduled) {
      this.#scheduled = true;
      setImmediate(() => this.flush());
    }
  }

  requeue(delivery: AckableDelivery): void {
    if (this.#dead) return;
    try {
      this.channel.nack(delivery.raw, false, true);
      this.#wrote();
    } catch {
      // The channel closed meanwhile: RabbitMQ requeues it anyway.
    }
  }

  /** Sends the queued acks now. */
  flush(): void {
    this.#scheduled = false;
    const pending = this.#pending;
    if (pending.length === 0 || this.#dead) return;
    this.#pending = [];
    // Everything before the first delivery still held is settled (acked now or earlier, or requeued).
    const order = this.#order;
    while (this.#head < order.length && order[this.#head]!.settled) this.#head++;
    if (this.#head > 1024 && this.#head * 2 > order.length) {
      this.#order = order.slice(this.#head);
      this.#head = 0;
    }
    const lowest = this.#head < this.#order.length ? tagOf(this.#order[this.#head]!) : Infinity;
    let upTo: AckableDelivery | undefined;
    let frames = 0;
    try {
      for (const d of pending) {
        if (tagOf(d) < lowest) {
          if (upTo === undefined || tagOf(d) > tagOf(upTo)) upTo = d;
        } else {
          this.channel.ack(d.raw);
          frames++;
        }
      }
      if (upTo) this.channel.ack(upTo.raw, true);
      // A lone (multiple) ack is one write anyway: batching would only add its own cost.
      if (frames > 0) this.#wrote();
    } catch {
      // The channel closed meanwhile: RabbitMQ requeues what was not acked.
    }
  }

  /** The channel is gone: forget everything. */
  kill(): void {
    this.#dead = true;
    this.#order = [];
    this.#pending = [];
  }
}
