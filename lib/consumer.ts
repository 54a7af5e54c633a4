import type { Message } from "./message.ts";

/**
 * One message handed out by a consumer: its raw body plus whatever handle the broker needs
 * to settle it. Brokers extend this with their own fields.
 */
export interface Delivery {
  /** The message as received from the broker. */
  readonly body: string | Buffer;
  /** True when the broker knows the message was delivered before. */
  readonly redelivered?: boolean;
  /**
   * Epoch ms at which a delayed message (a `delay`, a retry's backoff) became due, where the
   * broker carried it (a broker may also give it for a message ready at once: when it stored
   * it). Undefined otherwise: the wait metric then counts from `message_timestamp`.
   */
  readonly eta?: number;
}

/** Options of `Broker.consume`. */
export interface ConsumeOptions {
  /** How many unacknowledged deliveries this consumer may hold. */
  prefetch: number;
}

/**
 * Reads one queue. `fetch` resolves with up to `max` ready messages, waiting at most
 * `timeout` ms (it must not busy-poll); delayed messages stay in the broker until due.
 */
export abstract class Consumer {
  /** Resolves with up to `max` ready deliveries, waiting at most `timeout` ms for the first. */
  abstract fetch(max: number, timeout: number): Promise<Delivery[]>;
  /** The message is done: forget it. */
  abstract ack(delivery: Delivery): Promise<void>;
  /** The message failed for good: move it to `<queue>.XQ` with `reason`. */
  abstract nack(delivery: Delivery, reason: string, error?: unknown): Promise<void>;
  /**
   * Enqueues `message` (the next attempt) after `delay` ms and acks `delivery`, as one step
   * where the broker allows it, so a crash between the two neither loses nor duplicates it.
   */
  abstract retry(delivery: Delivery, message: Message, delay: number): Promise<void>;
  /** Gives unstarted deliveries back to the broker, ahead of the others where it can. */
  abstract requeue(deliveries: Delivery[]): Promise<void>;
  /** Wakes a pending `fetch` so shutdown need not wait out its timeout. */
  abstract interrupt(): void;
  /** Stops consuming; deliveries not yet settled go back to the broker. */
  abstract close(): Promise<void>;

  /**
   * What names this consumer's held messages on the broker, for `Broker.recoverConsumer` run by
   * another process once this one died; undefined where the broker takes them back by itself.
   */
  get recoveryId(): string | undefined {
    return undefined;
  }
}
