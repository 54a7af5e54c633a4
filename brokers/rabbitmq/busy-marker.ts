import type { Channel } from "amqplib";

/** The empty queue whose consumers mark the consumers of `q` that hold deliveries. */
export function busyQueueName(queueName: string): string {
  return `${queueName}.IF`;
}

/**
 * Tells every process whether this consumer holds deliveries of its queue. AMQP reports a queue's
 * ready messages and its consumer count to anyone (a passive queue.declare), but not the
 * messages its consumers hold unacknowledged; the management plugin does, and dramats does not
 * require it. So while a consumer holds any delivery it keeps a consumer on the queue's empty
 * `q.IF` queue, and cancels it when it holds none: `q.IF`'s consumer count is the number of
 * consumers, in any process, that hold messages of `q`. RabbitMQ drops the marker with the
 * connection, so a crashed worker's marker goes with its unacknowledged messages.
 *
 * One basic.consume or basic.cancel at a time, only when the consumer goes from holding nothing
 * to holding something or back; none while it stays busy.
 */
export class BusyMarker {
  readonly #channel: Channel;
  readonly #queue: string;
  #wanted = false;
  /** The marker's consumer tag while RabbitMQ has it. */
  #tag: string | undefined;
  #sending: Promise<void> | undefined;
  #dead = false;

  constructor(channel: Channel, queueName: string) {
    this.#channel = channel;
    this.#queue = busyQueueName(queueName);
  }

  /**
   * True when RabbitMQ counts the marker and no cancel is on its way. A marker being added or
   * removed is not counted here, while RabbitMQ may count it: a count made with this errs
   * towards "busy", never towards "idle".
   */
  get counted(): boolean {
    return this.#tag !== undefined && this.#sending === undefined;
  }

  /** Resolves when no basic.consume or basic.cancel of the marker is on its way. */
  async settled(): Promise<void> {
    while (this.#sending !== undefined) await this.#sending;
  }

  set(busy: boolean): void {
    if (busy === this.#wanted) return;
    this.#wanted = busy;
    this.#step();
  }

  /** The channel is gone, and the marker with it. */
  kill(): void {
    this.#dead = true;
    this.#tag = undefined;
  }

  #step(): void {
    if (this.#sending !== undefined || this.#dead) return;
    if (this.#wanted && this.#tag === undefined) {
      // Nothing is ever published to q.IF; anything that is gets dropped (noAck).
      this.#sending = this.#channel.consume(this.#queue, () => {}, { noAck: true }).then(({ consumerTag }) => this.#done(consumerTag), this.#failed);
    } else if (!this.#wanted && this.#tag !== undefined) {
      this.#sending = this.#channel.cancel(this.#tag).then(() => this.#done(undefined), this.#failed);
    }
  }

  #done(tag: string | undefined): void {
    this.#sending = undefined;
    if (this.#dead) return;
    this.#tag = tag;
    this.#step();
  }

  /** The channel closed: the consumer starts over on a new connection, with a new marker. */
  readonly #failed = (): void => {
    this.#sending = undefined;
    this.kill();
  };
}
