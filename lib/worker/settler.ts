import type { Broker, Delivery } from "../broker.ts";
import { DecodeError, describeError, EncodeError, InvalidOptions, MessageTooLarge } from "../errors.ts";
import { messageFields, type Logger } from "../logging.ts";
import type { MessageProxy } from "../message-proxy.ts";
import { sleep } from "../sleep.ts";
import type { ConsumerLoop } from "./consumer-loop.ts";

/** A fetched message on its way through the worker, from hand-over to settle. */
export interface WorkItem {
  readonly proxy: MessageProxy;
  readonly loop: ConsumerLoop;
  /** Set by the Settler the first time the item is settled: there is never a second time. */
  settled: boolean;
}

/** How a fetched message ends. */
export type Settlement = "ack" | "retry" | "dead-letter" | "give-back";

/** What the Settler needs from its worker. */
export interface SettlerHost {
  /** True once the worker's consumers are closing: a settle that keeps failing gives up then. */
  readonly closing: boolean;
  /** Called once per settle, when the broker confirmed it or the Settler gave up on it. */
  settled(): void;
}

/** The most a failed settle waits between attempts (ms). */
const MAX_SETTLE_BACKOFF = 5_000;

/**
 * The one place that decides and carries out how every fetched message ends: ack, retry,
 * dead letter or give-back. The worker reaches it through a single `finally`-shaped path
 * whatever the run did (returned, threw, was skipped, timed out, was cancelled or shut down),
 * and a message is settled exactly once: a second call for the same item does nothing.
 *
 * Hook errors never stop a settle (a before-hook's MiddlewareError is logged, and the broker
 * step happens anyway); a retry that cannot be written (a hook refuses it, or it no longer
 * encodes) is dead-lettered with the reason; a broker step that fails for a passing reason
 * (a dropped connection) is retried with backoff until it succeeds or the worker closes its
 * consumers, which gives the message back.
 */
export class Settler {
  readonly #broker: Broker;
  readonly #host: SettlerHost;
  readonly #log: Logger;
  /** Settles handed to the broker and not yet confirmed. */
  #pending = 0;
  /** Acks waiting on the latest ack promise: brokers batch acks and hand a batch one promise. */
  #ackGroup: AckGroup | undefined;

  constructor(broker: Broker, host: SettlerHost, logger: Logger) {
    this.#broker = broker;
    this.#host = host;
    this.#log = logger;
  }

  /** Settles handed to the broker and not yet confirmed (or given up on). */
  get pending(): number {
    return this.#pending;
  }

  /** What `settle` will do with this message, from the state the run left on its proxy. */
  static decide(proxy: MessageProxy): Settlement {
    if (proxy.retry !== undefined && !proxy.failed) return "retry";
    return proxy.failed ? "dead-letter" : "ack";
  }

  /**
   * Ends the item's message as its run decided. Returns at once; the broker's confirmation
   * is counted by `pending` and reported through the host's `settled()`.
   */
  settle(item: WorkItem): void {
    if (item.settled) return;
    item.settled = true;
    const { proxy, loop } = item;
    if (this.#host.closing) {
      // The consumers are closing (after the shutdown grace period): closing gives every
      // message still held back to the broker, this one included.
      this.#log.warn(messageFields(proxy), "Actor finished after shutdown; its message was given back and will run again");
      return;
    }
    this.#pending++;
    const broker = this.#broker;
    // The common case, a plain ack nobody hooks: one promise, shared with the rest of its batch.
    if (proxy.retry === undefined && !proxy.failed && !broker.hasHook("beforeAck") && !broker.hasHook("afterAck")) {
      let acked: Promise<void>;
      try {
        acked = loop.consumer.ack(proxy.delivery);
      } catch (error) {
        acked = Promise.reject(error);
      }
      const group = this.#ackGroup;
      if (group !== undefined && group.promise === acked) group.members.push(loop, proxy);
      else this.#watchAcks(acked, loop, proxy);
      return;
    }
    this.#settleHooked(loop, proxy).then(this.#onSettled, (error) => this.#gaveUp(proxy, error));
  }

  /** Dead-letters a delivery whose body could not be decoded into a message (there is no proxy). */
  rejectUndecodable(loop: ConsumerLoop, delivery: Delivery, error: unknown): Promise<void> {
    const reason = describeError(error);
    this.#log.error({ queue: loop.queueName, reason }, "Dead-lettering a message that cannot be decoded");
    this.#pending++;
    return this.#withRetry(loop, () => loop.consumer.nack(delivery, reason, error)).then(this.#onSettled, (e) => this.#gaveUp(undefined, e));
  }

  /** Gives unstarted items back to the broker (shutdown), ahead of other messages where it can. */
  async giveBack(items: WorkItem[]): Promise<void> {
    const byLoop = new Map<ConsumerLoop, Delivery[]>();
    for (const item of items) {
      if (item.settled) continue;
      item.settled = true;
      const list = byLoop.get(item.loop) ?? [];
      list.push(item.proxy.delivery);
      byLoop.set(item.loop, list);
    }
    for (const [loop, deliveries] of byLoop) {
      try {
        await loop.consumer.requeue(deliveries);
      } catch (error) {
        // Closing the consumer gives them back, or the broker's recovery does.
        this.#log.error({ err: error, queue: loop.queueName, count: deliveries.length }, "Could not give back unstarted messages; the broker will redeliver them");
      }
      loop.started(deliveries.length);
      loop.release(deliveries.length);
    }
  }

  readonly #onSettled = (): void => {
    this.#pending--;
    this.#host.settled();
  };

  #watchAcks(promise: Promise<void>, loop: ConsumerLoop, proxy: MessageProxy): void {
    const group: AckGroup = { promise, members: [loop, proxy] };
    this.#ackGroup = group;
    promise.then(
      () => {
        if (this.#ackGroup === group) this.#ackGroup = undefined;
        for (let i = 0; i < group.members.length; i += 2) this.#onSettled();
      },
      (error: unknown) => {
        if (this.#ackGroup === group) this.#ackGroup = undefined;
        const m = group.members;
        for (let i = 0; i < m.length; i += 2) {
          const [l, p] = [m[i] as ConsumerLoop, m[i + 1] as MessageProxy];
          this.#retrySettle(l, () => l.consumer.ack(p.delivery), error).then(this.#onSettled, (e) => this.#gaveUp(p, e));
        }
      },
    );
  }

  async #settleHooked(loop: ConsumerLoop, proxy: MessageProxy): Promise<void> {
    if (Settler.decide(proxy) === "retry" && (await this.#retry(loop, proxy))) return;
    const broker = this.#broker;
    const consumer = loop.consumer;
    if (proxy.failed) {
      const reason = proxy.deadLetterReason ?? (proxy.error === undefined ? "Message failed" : describeError(proxy.error));
      proxy.deadLetterReason = reason;
      const ran = proxy.startedAt > 0 ? { durationMs: Date.now() - proxy.startedAt } : {};
      this.#log.error({ ...messageFields(proxy), ...ran, reason }, "Message dead-lettered");
      await this.#hook(() => broker.emit("beforeNack", broker, proxy));
      await this.#withRetry(loop, () => consumer.nack(proxy.delivery, reason, proxy.error));
      await broker.emit("afterNack", broker, proxy);
    } else {
      await this.#hook(() => broker.emit("beforeAck", broker, proxy));
      await this.#withRetry(loop, () => consumer.ack(proxy.delivery));
      await broker.emit("afterAck", broker, proxy);
    }
  }

  /**
   * Writes the next attempt and acks this delivery as one broker step. Returns false (with the
   * proxy failed, for a dead letter) when the retry cannot be written: a before-enqueue hook
   * refused it, or the message no longer encodes.
   */
  async #retry(loop: ConsumerLoop, proxy: MessageProxy): Promise<boolean> {
    const broker = this.#broker;
    const { message, delay } = proxy.retry!;
    try {
      await broker.emit("beforeEnqueue", broker, message, delay);
    } catch (error) {
      this.#cannotRetry(proxy, error);
      return false;
    }
    await this.#hook(() => broker.emit("beforeAck", broker, proxy));
    try {
      await this.#withRetry(loop, () => loop.consumer.retry(proxy.delivery, message, delay));
    } catch (error) {
      if (!isAboutTheMessage(error)) throw error;
      this.#cannotRetry(proxy, error);
      return false;
    }
    await broker.emit("afterAck", broker, proxy);
    await broker.emit("afterEnqueue", broker, message, delay);
    return true;
  }

  #cannotRetry(proxy: MessageProxy, error: unknown): void {
    proxy.retry = undefined;
    proxy.fail(proxy.error ?? error);
    proxy.deadLetterReason = `Retry could not be enqueued: ${describeError(error)}`;
  }

  /** Runs a before-hook for its side effects: its errors are logged, never stop the settle. */
  async #hook(emit: () => void | Promise<void>): Promise<void> {
    try {
      await emit();
    } catch (error) {
      this.#log.error({ err: error }, "Middleware hook failed while settling a message; settling anyway");
    }
  }

  /**
   * A broker step that must not be lost to a passing connection error: retried with backoff
   * until it succeeds or the consumers close (closing gives the message back). Errors about
   * the message itself (it does not encode) are not passing: they are thrown at once.
   */
  async #withRetry(loop: ConsumerLoop, operation: () => Promise<void>): Promise<void> {
    try {
      return await operation();
    } catch (error) {
      if (isAboutTheMessage(error)) throw error;
      return this.#retrySettle(loop, operation, error);
    }
  }

  async #retrySettle(loop: ConsumerLoop, operation: () => Promise<void>, error: unknown): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      if (this.#host.closing) throw error;
      const delay = Math.min(100 * 2 ** attempt, MAX_SETTLE_BACKOFF);
      this.#log.error({ err: error, queue: loop.queueName, attempt, retryInMs: delay }, "Settling a message failed; retrying");
      await sleep(delay);
      try {
        return await operation();
      } catch (next) {
        if (isAboutTheMessage(next)) throw next;
        error = next;
      }
    }
  }

  #gaveUp(proxy: MessageProxy | undefined, error: unknown): void {
    const fields = proxy === undefined ? {} : messageFields(proxy);
    this.#log.error({ err: error, ...fields }, "Could not settle a message; the broker will redeliver it");
    this.#onSettled();
  }
}

/** Errors that retrying the same broker step cannot cure: the message itself is the problem. */
function isAboutTheMessage(error: unknown): boolean {
  return error instanceof EncodeError || error instanceof MessageTooLarge || error instanceof DecodeError || error instanceof InvalidOptions;
}

/** Acks sharing one broker promise: flat pairs of loop and proxy. */
interface AckGroup {
  readonly promise: Promise<void>;
  readonly members: (ConsumerLoop | MessageProxy)[];
}
