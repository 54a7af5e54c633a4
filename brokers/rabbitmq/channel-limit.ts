import type { Channel } from "amqplib";

/** AMQP's prefetch count is an unsigned short. */
const MAX_PREFETCH = 65_535;

/**
 * The prefetch limit of a consumer's channel, moved to follow what the worker asks for.
 *
 * It is a channel-wide limit (basic.qos with `global`), because RabbitMQ applies a per-consumer
 * limit only to consumers started after it, while a channel-wide one can be changed at any time
 * and holds at once. The channel carries a single consumer, so the two mean the same there.
 * Never send a per-consumer basic.qos on this channel: RabbitMQ (3.x) lifts the channel-wide
 * limit when it receives one.
 *
 * Changes go out one at a time (a basic.qos is a round trip), and only by a step (an eighth of
 * the limit, and at least half the floor) so that a window that wobbles does not cost a basic.qos
 * per fetch; a return to the floor always goes out. `applied` is called once RabbitMQ has
 * confirmed a limit: from then on it delivers nothing beyond it.
 */
export class ChannelLimit {
  readonly channel: Channel;
  /** The limit asked for at the start, and the lowest it goes. */
  readonly floor: number;
  #target: number;
  #applied = 0;
  #sending: Promise<void> | undefined;
  #dead = false;
  readonly #onApplied: (limit: number) => void;

  constructor(channel: Channel, floor: number, onApplied: (limit: number) => void) {
    this.channel = channel;
    this.floor = Math.min(floor, MAX_PREFETCH);
    this.#target = this.floor;
    this.#onApplied = onApplied;
  }

  /** The limit last asked for (RabbitMQ may not have confirmed it yet). */
  get target(): number {
    return this.#target;
  }

  /** The limit RabbitMQ confirmed last (0 before the first). */
  get applied(): number {
    return this.#applied;
  }

  /** Sets the first limit; resolves once RabbitMQ confirmed it. */
  start(): Promise<void> {
    this.#send();
    return this.settled();
  }

  /** The holder would like to hold `wanted` deliveries: moves the limit there if it is a step away. */
  want(wanted: number): void {
    const target = Math.max(this.floor, Math.min(Math.ceil(wanted), MAX_PREFETCH));
    const current = this.#target;
    if (target === current) return;
    const step = Math.max(Math.ceil(this.floor / 2), Math.ceil(current / 8));
    if (Math.abs(target - current) < step && target !== this.floor) return;
    this.#target = target;
    this.#send();
  }

  /** Lowers the limit to `limit` (not below the floor) and resolves once RabbitMQ applied it. */
  lower(limit: number): Promise<void> {
    const target = Math.max(this.floor, Math.ceil(limit));
    if (target < this.#target) {
      this.#target = target;
      this.#send();
    }
    return this.settled();
  }

  /** Resolves when no change is on its way (or the channel died). */
  async settled(): Promise<void> {
    while (this.#sending !== undefined) await this.#sending;
  }

  /** The channel is gone: send nothing more. */
  kill(): void {
    this.#dead = true;
  }

  #send(): void {
    if (this.#sending !== undefined || this.#dead) return;
    const limit = this.#target;
    if (limit === this.#applied) return;
    this.#sending = this.channel.prefetch(limit, true).then(
      () => {
        this.#sending = undefined;
        if (this.#dead) return;
        this.#applied = limit;
        this.#onApplied(limit);
        this.#send();
      },
      () => {
        // The channel closed: the consumer starts over on a new one, with a new limit.
        this.#sending = undefined;
        this.#dead = true;
      },
    );
  }
}
