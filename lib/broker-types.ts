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
  ready: number;
  delayed: number;
  inFlight: number;
  dead: number;
}

export interface EnqueueOptions {
  /** Milliseconds before the message becomes visible to workers. @defaultValue 0 */
  delay?: number;
}

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
  delay: number;
  /** Lower runs first. */
  priority: number;
}

/** One message of a bulk write: the message, its encoded body and where it goes. */
export interface MessageWrite {
  readonly message: Message;
  readonly body: string;
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
  readonly scheme: string;
  readonly options: Record<string, unknown>;
}
