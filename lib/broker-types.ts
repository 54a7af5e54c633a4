// The plain shapes of the broker contract (lib/broker.ts), re-exported from there.
import type { Message } from "./message.ts";

/** A dead-lettered message as kept in `<queue>.XQ`. */
export interface DeadLetter {
  /** The message id when the body could be decoded (or the broker's id for raw bodies). */
  readonly id: string;
  /** The message exactly as it was received. */
  readonly body: string;
  /** Why it was dead-lettered (`TimeLimitExceeded: ...`, `DecodeError: ...`). */
  readonly reason: string;
  /** Epoch ms at which it was dead-lettered. */
  readonly deadAt: number;
}

/** How many messages a queue holds, by state. */
export interface QueueDepths {
  /** Messages waiting to be fetched. */
  ready: number;
  /** Messages waiting for their delay (or a retry's backoff) to pass. */
  delayed: number;
  /** Messages fetched by a consumer and not yet settled. */
  inFlight: number;
  /** Messages in the dead-letter queue. */
  dead: number;
}

/** Options of `Broker.enqueue` and `Broker.enqueueMany`. */
export interface EnqueueOptions {
  /** Milliseconds before the message becomes visible to workers. @defaultValue 0 */
  delay?: number;
}

/** Options of `Broker.join`. */
export interface JoinOptions {
  /** Give up after this many ms with QueueJoinTimeout. @defaultValue wait forever */
  timeout?: number;
  /**
   * Reject on the first dead letter of the queue since this broker's previous join or flush of
   * it, or since it declared it (see `Broker.join`), with the actor's own error where this process
   * has it. @defaultValue true
   */
  failFast?: boolean;
}

/** What a broker needs to know to write a message. */
export interface WriteOptions {
  /** Milliseconds before the message becomes visible to workers. */
  delay: number;
  /** Lower runs first. */
  priority: number;
}

/** One message of a bulk write: the message, its encoded body and where it goes. */
export interface MessageWrite {
  /** The message. */
  readonly message: Message;
  /** The message as encoded by the broker's encoder. */
  readonly body: string;
  /** Its delay and priority. */
  readonly options: WriteOptions;
}

/** A key of the broker's own store (`Broker.store`) that `enqueueOnce` sets with its messages. */
export interface OnceClaim {
  readonly key: string;
  /** How long the key is kept, in ms; the same messages can be enqueued again once it expired. */
  readonly ttl: number;
  /** What the key holds (readable with `store.get`). @defaultValue "1" */
  readonly value?: string;
}

/**
 * How another process on this host reaches a broker to recover a dead process's consumers: a
 * URL scheme naming the adapter (as in lib/connect.ts) and JSON-safe options for its constructor.
 */
export interface BrokerAddress {
  /** The URL scheme naming the adapter, e.g. `redis:`. */
  readonly scheme: string;
  /** JSON-safe options for the adapter's constructor. */
  readonly options: Record<string, unknown>;
}
