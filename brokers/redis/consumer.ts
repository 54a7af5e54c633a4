import { randomUUID } from "node:crypto";
import { ACK_FLUSH_COUNT } from "../../lib/ack-flush.ts";
import { Consumer, type Delivery } from "../../lib/broker.ts";
import type { Logger } from "../../lib/logging.ts";
import type { Message } from "../../lib/message.ts";
import { sleep } from "../../lib/sleep.ts";
import { Batcher } from "./batcher.ts";
import type { RedisKeys } from "./keys.ts";
import type { StoreEntry } from "./layout.ts";
import type { FetchReply, HeldDelayed, Scripts } from "./scripts.ts";
import type { WakeUp } from "./wake-up.ts";

/** A message handed out by a RedisConsumer; `rid` is its id in `ns:q` / `ns:q.msgs`. */
export interface RedisDelivery extends Delivery {
  /** The stored message. */
  readonly body: string;
  /** The message's id in `ns:q` / `ns:q.msgs`. */
  readonly rid: string;
}

/** Delayed messages moved to ready per fetch at most (the rest on the next call). */
const MOVE_LIMIT = 1000;
/**
 * Messages of Dramatiq's delay queue one consumer holds until their eta at most (Dramatiq's
 * workers hold up to 1000 per thread, worker.py:96-98). Beyond it they wait in `ns:q.DQ`.
 */
export const DELAY_HOLD_LIMIT = 10_000;
/** Held messages moved to ready per script call. */
const PROMOTE_CHUNK = 500;

/** What a consumer needs from its broker. */
export interface ConsumerHost {
  readonly scripts: Scripts;
  readonly keys: RedisKeys;
  readonly logger: Logger;
  readonly deadMessageTtl: number;
  /** Bodies longer than this (bytes) are dead-lettered by the fetch itself; 0: no limit. */
  readonly maxBodySize: number;
  /** A wake-up (its own blocking connection) for one consumer of `queueName`. */
  createWakeUp(queueName: string, consumerId: string): WakeUp;
  /** Translates driver errors into typed broker errors. */
  brokerError(error: unknown, what: string): Error;
  /** True: take Dramatiq's delay-queue messages and hold them until their eta; false: move them into the sorted set. */
  readonly holdDelayed: boolean;
  /** What retry.lua stores for the next attempt `message` under `rid`. */
  retryEntry(message: Message, rid: string, delay: number): StoreEntry;
  /** The broker priority a held delay-queue message gets when ready; undefined: 0 for all (and no bodies fetched). */
  readonly delayedPriority: ((body: string) => number) | undefined;
  /** Keeps the actor's error of a dead-lettered message for `join({ failFast })` in this process. */
  rememberDeadLetter(queueName: string, rid: string, error: unknown): void;
  /** Stops heartbeating the consumer. */
  detach(consumer: RedisConsumer): void;
}

/**
 * Reads one queue for one worker. It is registered under its own id (heartbeat, acks set),
 * so a consumer that dies is recovered even while its broker's other consumers live on.
 */
/**
 * Fault-test seam, kept off the public class: how a spec makes a consumer vanish the way a
 * killed process's does (see testing.ts next to this file). Not exported from the package.
 */
export const crashes = new WeakMap<RedisConsumer, () => void>();

export class RedisConsumer extends Consumer {
  /** This consumer's id in `ns:__heartbeats__` and in its acks set's name. */
  readonly id = randomUUID();
  /** The queue this consumer reads. */
  readonly queueName: string;
  readonly #host: ConsumerHost;
  readonly #base: string;
  readonly #acksKey: string;
  /** rids fetched and not yet settled, as far as this process knows. */
  readonly #held = new Set<string>();
  readonly #acks: Batcher<string>;
  readonly #wake: WakeUp;
  /** Delay-queue messages held until their eta (`holdDelayed`): rid -> due (local ms), priority once ready. */
  readonly #delayed = new Map<string, { due: number; priority: number }>();
  #delayTimer: NodeJS.Timeout | undefined;
  /** A promotion is under way: the next waits for it (it reschedules when done). */
  #promoting = false;
  #needsReconcile = false;
  /** Set by interrupt(): the pending fetch returns instead of waiting again. */
  #interrupted = false;
  #closed = false;

  /** @internal Consumers are built by their broker's `consume()`. */
  constructor(host: ConsumerHost, queueName: string) {
    super();
    crashes.set(this, () => this.#abandon());
    this.#host = host;
    this.queueName = queueName;
    this.#base = host.keys.queue(queueName);
    this.#acksKey = host.keys.acks(this.id, queueName);
    // Acks wait for the end of the loop iteration, so that a fetch of the same turn can carry
    // them (one script call instead of two); otherwise they go on their own, and at once when
    // ACK_FLUSH_COUNT are pending (the bound on what a crash reruns).
    this.#acks = new Batcher((rids) => this.#ackBatch(rids), { defer: "immediate", maxBatch: ACK_FLUSH_COUNT, flushWhenFull: true });
    this.#wake = host.createWakeUp(queueName, this.id);
  }

  /** This consumer's id, as in its acks set `ns:__acks__.<id>.<q>` (see RedisBroker.recoverConsumer). */
  override get recoveryId(): string {
    return this.id;
  }

  /** True once the consumer is closed. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Messages handed out and not settled. */
  get held(): number {
    return this.#held.size;
  }

  /**
   * After a reconnection a fetch may have run without its reply reaching us (ioredis re-sends
   * in-flight commands, or gives up on them): the ids it took sit in our acks set unknown to
   * the worker. The next fetch first gives such ids back.
   */
  markReconnected(): void {
    this.#needsReconcile = true;
  }

  async fetch(max: number, timeout: number): Promise<RedisDelivery[]> {
    if (this.#closed) {
      // A loop still polling a closed consumer must not spin.
      await sleep(Math.min(timeout, 1_000));
      return [];
    }
    const count = Math.max(1, Math.floor(max));
    try {
      if (this.#needsReconcile) await this.#reconcile();
      const deadline = Date.now() + timeout;
      let reply = await this.#fetchOnce(count);
      // Sleep until woken or the next eta, then look again, within the caller's timeout.
      while (reply.messages.length === 0 && !this.#closed && !this.#interrupted) {
        const left = deadline - Date.now();
        if (left <= 0) break;
        const untilDue = reply.wait >= 0 && reply.wait < left;
        const wait = untilDue ? reply.wait : left;
        if (wait > 0) await this.#wake.wait(wait, untilDue);
        if (this.#closed || this.#interrupted) break;
        reply = await this.#fetchOnce(count);
      }
      this.#interrupted = false;
      if (this.#closed) return [];
      for (const delivery of reply.messages) this.#held.add(delivery.rid);
      return reply.messages;
    } catch (error) {
      this.#needsReconcile = true;
      throw this.#host.brokerError(error, "fetch");
    }
  }

  #fetchOnce(count: number): Promise<FetchReply> {
    const { scripts, keys } = this.#host;
    const finished = this.#acks.takePending();
    const hold = this.#host.holdDelayed ? Math.max(0, DELAY_HOLD_LIMIT - this.#delayed.size) : -1;
    const limits = { maxSize: this.#host.maxBodySize, deadTtl: this.#host.deadMessageTtl, hold, holdBodies: this.#host.delayedPriority !== undefined };
    const reply = scripts.fetch(this.#base, this.#acksKey, keys.heartbeats, keys.consumers, count, this.id, this.queueName, MOVE_LIMIT, limits, finished?.items).then((r) => {
      if (r.held.length > 0) this.#hold(r.held);
      return r;
    });
    if (finished !== undefined) {
      finished.settle(
        reply.then(
          () => {
            for (const rid of finished.items) this.#held.delete(rid);
          },
          (error: unknown) => {
            throw this.#host.brokerError(error, "ack");
          },
        ),
      );
    }
    return reply;
  }

  /** Keeps delay-queue messages until their eta, as a Dramatiq worker does; a timer promotes them. */
  #hold(held: HeldDelayed[]): void {
    const now = Date.now();
    const priorityOf = this.#host.delayedPriority;
    for (const { rid, body, dueIn } of held) this.#delayed.set(rid, { due: now + dueIn, priority: priorityOf === undefined ? 0 : priorityOf(body) });
    this.#scheduleDelayed();
  }

  #scheduleDelayed(retryIn?: number): void {
    clearTimeout(this.#delayTimer);
    this.#delayTimer = undefined;
    if (this.#closed || this.#promoting || this.#delayed.size === 0) return;
    let first = Infinity;
    for (const { due } of this.#delayed.values()) if (due < first) first = due;
    const wait = Math.max(retryIn ?? 0, first - Date.now(), 0);
    this.#delayTimer = setTimeout(() => void this.#promoteDue(), Math.min(wait, 2 ** 31 - 1));
  }

  /** Moves every held message now due to `ns:q` (delay-queue.lua), then waits for the next. */
  async #promoteDue(): Promise<void> {
    this.#delayTimer = undefined;
    const now = Date.now();
    const due: [string, { due: number; priority: number }][] = [];
    for (const entry of this.#delayed) if (entry[1].due <= now) due.push(entry);
    this.#promoting = true;
    let retryIn: number | undefined;
    try {
      for (let i = 0; i < due.length; i += PROMOTE_CHUNK) {
        const part = due.slice(i, i + PROMOTE_CHUNK);
        const entries = part.flatMap(([rid, { priority }]) => [rid, priority]);
        await this.#host.scripts.promote(this.#base, this.#acksKey, this.queueName, entries);
        for (const [rid] of part) this.#delayed.delete(rid);
      }
    } catch (error) {
      if (!this.#closed) this.#host.logger.warn({ err: error, queue: this.queueName }, "Could not move delayed messages to their queue; retrying in 1 s");
      retryIn = 1_000;
    } finally {
      this.#promoting = false;
    }
    this.#scheduleDelayed(retryIn);
  }

  async #reconcile(): Promise<void> {
    if (this.#host.holdDelayed) await this.#host.scripts.returnDelayed(this.#base, this.#acksKey, "except", [...this.#delayed.keys()]);
    const given = await this.#host.scripts.requeue(this.#base, this.#acksKey, "except", [...this.#held]);
    this.#needsReconcile = false;
    if (given > 0) this.#host.logger.warn({ queue: this.queueName, count: given }, "Gave back messages fetched by a call whose reply was lost");
  }

  /** Joins this turn's batch of acks (one script call); resolves when that call succeeded. */
  ack(delivery: Delivery): Promise<void> {
    return this.#acks.add((delivery as RedisDelivery).rid);
  }

  async #ackBatch(rids: string[]): Promise<void> {
    try {
      await this.#host.scripts.ack(this.#base, this.#acksKey, rids);
    } catch (error) {
      throw this.#host.brokerError(error, "ack");
    }
    for (const rid of rids) this.#held.delete(rid);
  }

  async nack(delivery: Delivery, reason: string, error?: unknown): Promise<void> {
    const { rid } = delivery as RedisDelivery;
    // Before the nack: a join may see the dead letter as soon as Redis has it. A rid is never
    // reused, so the error of a nack that fails is never recalled.
    this.#host.rememberDeadLetter(this.queueName, rid, error);
    try {
      await this.#host.scripts.nack(this.#base, this.#acksKey, rid, reason, this.#host.deadMessageTtl);
    } catch (e) {
      throw this.#host.brokerError(e, "nack");
    }
    this.#held.delete(rid);
  }

  async retry(delivery: Delivery, message: Message, delay: number): Promise<void> {
    const { rid } = delivery as RedisDelivery;
    const entry = this.#host.retryEntry(message, randomUUID(), delay);
    try {
      await this.#host.scripts.retry(this.#base, this.#acksKey, rid, entry);
    } catch (error) {
      throw this.#host.brokerError(error, "retry");
    }
    this.#held.delete(rid);
  }

  async requeue(deliveries: Delivery[]): Promise<void> {
    if (this.#closed || deliveries.length === 0) return; // closing gave everything back already
    const rids = deliveries.map((d) => (d as RedisDelivery).rid);
    try {
      await this.#host.scripts.requeue(this.#base, this.#acksKey, "ids", rids);
    } catch (error) {
      throw this.#host.brokerError(error, "requeue");
    }
    for (const rid of rids) this.#held.delete(rid);
  }

  interrupt(): void {
    this.#interrupted = true;
    this.#wake.interrupt();
  }

  /** Gives back whatever is still held (held delay-queue messages to `ns:q.DQ`), unregisters, and drops the wake-up connection. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#delayTimer);
    this.#wake.close();
    await this.#acks.drain();
    this.#host.detach(this);
    const { scripts, keys } = this.#host;
    try {
      await scripts.release(this.#base, this.#acksKey, keys.heartbeats, keys.consumers, this.id);
    } catch (error) {
      // Our heartbeat has stopped: a live broker's maintenance will requeue them instead.
      this.#host.logger.error({ err: error, queue: this.queueName, held: this.#held.size }, "Could not give back held messages on close; they will be recovered after the heartbeat timeout");
    }
    this.#held.clear();
    this.#delayed.clear();
  }

  /**
   * Disappears the way a killed process does: no more heartbeats, connection dropped, nothing
   * given back. For specs of crash recovery.
   */
  #abandon(): void {
    this.#closed = true;
    clearTimeout(this.#delayTimer);
    this.#wake.close();
    this.#host.detach(this);
  }
}
