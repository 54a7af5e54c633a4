import type { Channel } from "amqplib";

/** AMQP's prefetch count is an unsigned short. */
const MAX_PREFETCH = 65_535;
/** Setups in a row whose channel-wide basic.qos failed before a consumer stops asking for one. */
const GLOBAL_QOS_ATTEMPTS = 2;

/**
 * Whether the server takes a channel-wide limit, learnt over a consumer's reconnections.
 * RabbitMQ deprecated `global_qos` and denies it by default from 4.3: it closes the channel or
 * the connection on a basic.qos with `global`, and the error that reaches the client does not
 * always say why. So a setup whose channel-wide basic.qos fails counts as a strike (one that
 * names `global_qos` counts as all of them); enough strikes and the consumer keeps a fixed
 * per-consumer limit instead, as before the limit followed the window.
 */
export class GlobalQosSupport {
  #strikes = 0;

  get denied(): boolean {
    return this.#strikes >= GLOBAL_QOS_ATTEMPTS;
  }

  /** Returns true when this failure is the one that gives up on channel-wide limits. */
  failed(error: unknown): boolean {
    const before = this.denied;
    this.#strikes = /global_qos|global qos/i.test(error instanceof Error ? error.message : String(error)) ? GLOBAL_QOS_ATTEMPTS : this.#strikes + 1;
    return !before && this.denied;
  }

  worked(): void {
    this.#strikes = 0;
  }
}

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
 * confirmed a limit: from then on it delivers nothing beyond it. Where the server refuses a
 * channel-wide limit (see {@link GlobalQosSupport}) the limit is per consumer and stays at the floor.
 */
export class ChannelLimit {
  readonly channel: Channel;
  /** The limit asked for at the start, and the lowest it goes. */
  readonly floor: number;
  #target: number;
  #applied = 0;
  #sending: Promise<void> | undefined;
  #dead = false;
  /** A per-consumer limit, at the floor for good: the server refuses channel-wide ones. */
  #fixed = false;
  readonly #onApplied: (limit: number) => void;
  readonly #support: GlobalQosSupport;

  constructor(channel: Channel, floor: number, support: GlobalQosSupport, onApplied: (limit: number) => void) {
    this.channel = channel;
    this.floor = Math.min(floor, MAX_PREFETCH);
    this.#target = this.floor;
    this.#support = support;
    this.#onApplied = onApplied;
  }

  /** True when the limit cannot move (the server refuses channel-wide limits). */
  get fixed(): boolean {
    return this.#fixed;
  }

  /** The limit last asked for (RabbitMQ may not have confirmed it yet). */
  get target(): number {
    return this.#target;
  }

  /** The limit RabbitMQ confirmed last (0 before the first). */
  get applied(): number {
    return this.#applied;
  }

  /**
   * Sets the first limit, before the consumer starts; resolves once RabbitMQ confirmed it.
   * Rejects when the channel-wide basic.qos fails (the setup then fails and is tried again).
   */
  async start(): Promise<void> {
    if (this.#support.denied) {
      this.#fixed = true;
      await this.channel.prefetch(this.floor, false);
    } else {
      try {
        await this.channel.prefetch(this.floor, true);
      } catch (error) {
        throw this.#support.failed(error) ? new GlobalQosRefused(error) : error;
      }
      this.#support.worked();
    }
    this.#applied = this.floor;
  }

  /** The holder would like to hold `wanted` deliveries: moves the limit there if it is a step away. */
  want(wanted: number): void {
    if (this.#fixed) return;
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
    if (target < this.#target && !this.#fixed) {
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

/** The server refused channel-wide prefetch limits: consumers keep fixed per-consumer ones from now on. */
export class GlobalQosRefused extends Error {
  constructor(cause: unknown) {
    super("RabbitMQ refused a channel-wide prefetch limit (basic.qos global; RabbitMQ 4.3 and later deny the deprecated global_qos by default): this consumer keeps a fixed prefetch", { cause });
    this.name = "GlobalQosRefused";
  }
}
