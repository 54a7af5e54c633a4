import {
  Broker,
  Consumer,
  type BrokerOptions,
  type ConsumeOptions,
  type DeadLetter,
  type Delivery,
  type MessageWrite,
  type OnceClaim,
  type QueueDepths,
  type QueueLook,
  type WriteOptions,
} from "../lib/broker.ts";
import { DramatsError } from "../lib/errors.ts";
import { Heap } from "../lib/heap.ts";
import { withDefaultChain } from "../middleware/defaults.ts";
import { MemoryKeyValueStore } from "../lib/key-value-store.ts";
import { MemoryWorkerRegistry } from "../lib/worker-registry.ts";
import { StubQueueBrowser } from "./stub-queue-browser.ts";
import type { QueueBrowser } from "../lib/queue-browser.ts";
import { MemoryHistoryStore } from "../lib/history-store.ts";
import type { Message } from "../lib/message.ts";

/** A dead letter as the stub keeps it: with the actor's own error, for `join({ failFast })`. */
export interface StubDeadLetter extends DeadLetter {
  /** The error the actor threw (or why the message failed). */
  readonly error: unknown;
}

/** A dead letter with its place in the order the broker wrote them: a join's cursor. */
interface DeadEntry extends StubDeadLetter {
  readonly seq: number;
}

interface Entry {
  readonly id: number;
  readonly body: string;
  readonly priority: number;
  readonly seq: number;
  eta: number;
  /** Went through the delayed heap: its eta is handed to the worker. */
  readonly delayed: boolean;
  redelivered: boolean;
}

interface StubDelivery extends Delivery {
  readonly entry: Entry;
}

const byPriority = (a: Entry, b: Entry) => a.priority < b.priority || (a.priority === b.priority && a.seq < b.seq);
const byEta = (a: Entry, b: Entry) => a.eta < b.eta || (a.eta === b.eta && a.seq < b.seq);

class StubQueue {
  readonly ready = new Heap<Entry>(byPriority);
  readonly delayed = new Heap<Entry>(byEta);
  readonly inFlight = new Set<Entry>();
  dead: DeadEntry[] = [];
  /** Called on every change of state: wakes fetches and joins. */
  readonly listeners = new Set<() => void>();
  timer: NodeJS.Timeout | undefined;
  /** Counts changes of state, so that a join hears of one made while it looked. */
  version = 0;

  notify(): void {
    this.version++;
    for (const listener of [...this.listeners]) listener();
  }
}

/**
 * An in-memory broker with the full contract: priorities, broker-side delays, dead letters
 * with reasons, redelivery of a closed consumer's messages, and `join`. For tests and for
 * single-process scripts; nothing survives the process.
 */
export class StubBroker extends Broker {
  readonly #queues = new Map<string, StubQueue>();
  readonly #store = new MemoryKeyValueStore();
  #ids = 0;
  #seq = 0;
  #deadSeq = 0;
  #closed = false;

  constructor(options: BrokerOptions = {}) {
    super(withDefaultChain(options));
  }

  protected override queueDeclared(queueName: string): void {
    this.#queues.set(queueName, new StubQueue());
  }

  #queue(queueName: string): StubQueue {
    this.assertDeclared(queueName);
    return this.#queues.get(queueName)!;
  }

  protected async writeMessage(message: Message, body: string, options: WriteOptions): Promise<void> {
    this.#push(message.queueName, body, options.priority, options.delay);
  }

  /** Synchronous from the claim to the last push, so nothing can run in between. */
  protected override async writeMessagesOnce(claim: Required<OnceClaim>, writes: readonly MessageWrite[]): Promise<boolean> {
    if (this.#closed) throw new DramatsError("StubBroker is closed");
    for (const { message } of writes) this.#queue(message.queueName);
    if (!this.#store.claim(claim.key, claim.value, claim.ttl)) return false;
    for (const { message, body, options } of writes) this.#push(message.queueName, body, options.priority, options.delay);
    return true;
  }

  /**
   * Puts raw bytes on a queue, bypassing encoding and middleware, as a foreign or broken
   * producer would. For testing poison messages.
   */
  enqueueRaw(queueName: string, body: string, options: { priority?: number; delay?: number } = {}): void {
    this.#push(queueName, body, options.priority ?? 0, options.delay ?? 0);
  }

  #push(queueName: string, body: string, priority: number, delay: number): void {
    if (this.#closed) throw new DramatsError("StubBroker is closed");
    const queue = this.#queue(queueName);
    const entry: Entry = { id: ++this.#ids, body, priority, seq: this.#seq++, eta: Date.now() + delay, delayed: delay > 0, redelivered: false };
    if (delay > 0) {
      queue.delayed.push(entry);
      this.#scheduleDelays(queue);
    } else {
      queue.ready.push(entry);
    }
    queue.notify();
  }

  /** Moves due delayed entries to the ready heap, then sleeps until the next eta. */
  #scheduleDelays(queue: StubQueue): void {
    if (queue.timer) clearTimeout(queue.timer);
    queue.timer = undefined;
    const now = Date.now();
    let moved = false;
    while (queue.delayed.size > 0 && queue.delayed.peek()!.eta <= now) {
      queue.ready.push(queue.delayed.pop()!);
      moved = true;
    }
    const next = queue.delayed.peek();
    if (next) queue.timer = setTimeout(() => this.#scheduleDelays(queue), Math.max(1, next.eta - now));
    if (moved) queue.notify();
  }

  /** @internal used by StubConsumer */
  take(queueName: string, max: number): Entry[] {
    const queue = this.#queue(queueName);
    const taken: Entry[] = [];
    while (taken.length < max && queue.ready.size > 0) {
      const entry = queue.ready.pop()!;
      queue.inFlight.add(entry);
      taken.push(entry);
    }
    return taken;
  }

  /** @internal */
  waitForChange(queueName: string, timeout: number, interrupted: { wake?: () => void }): Promise<void> {
    const queue = this.#queue(queueName);
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        queue.listeners.delete(done);
        interrupted.wake = undefined;
        resolve();
      };
      const timer = setTimeout(done, timeout);
      queue.listeners.add(done);
      interrupted.wake = done;
    });
  }

  /** @internal */
  settle(queueName: string, entry: Entry, outcome: { dead?: { reason: string; error: unknown } }): void {
    const queue = this.#queue(queueName);
    if (!queue.inFlight.delete(entry)) return; // already settled or given back: ignore, like a stale ack
    if (outcome.dead) {
      let id = String(entry.id);
      try {
        id = this.decode(entry.body).messageId;
      } catch {
        // undecodable: keep the broker's id
      }
      const seq = ++this.#deadSeq;
      queue.dead.push({ id, body: entry.body, reason: outcome.dead.reason, deadAt: Date.now(), error: outcome.dead.error, seq });
      this.rememberDeadLetter(queueName, String(seq), outcome.dead.error);
    }
    queue.notify();
  }

  /** @internal Gives entries back, ahead of later messages of the same priority. */
  giveBack(queueName: string, entries: Entry[], redelivered: boolean): void {
    const queue = this.#queue(queueName);
    for (const entry of entries) {
      if (!queue.inFlight.delete(entry)) continue;
      entry.redelivered ||= redelivered;
      queue.ready.push(entry);
    }
    queue.notify();
  }

  consume(queueName: string, options: ConsumeOptions): StubConsumer {
    this.#queue(queueName);
    return new StubConsumer(this, queueName, options.prefetch);
  }

  /** Dead letters are numbered in the order they are written, across queues: the cursor is the last number. */
  protected deadLetterCursor(): number {
    return this.#deadSeq;
  }

  protected async lookAtQueue(queueName: string, after: number, deadLetters: boolean): Promise<QueueLook<number>> {
    const queue = this.#queue(queueName);
    const idle = queue.ready.size === 0 && queue.delayed.size === 0 && queue.inFlight.size === 0;
    // New dead letters are appended: only when the last one is new is there one to find.
    const last = queue.dead[queue.dead.length - 1];
    const first = deadLetters && last !== undefined && last.seq > after ? queue.dead.find((dead) => dead.seq > after) : undefined;
    return { idle, cursor: this.#deadSeq, dead: first && { id: String(first.seq), messageId: first.id, reason: first.reason } };
  }

  /** Wakes a join on the queue's next change of state (or one made during its look). */
  protected override watchQueue(queueName: string): (timeout: number) => Promise<void> {
    const queue = this.#queue(queueName);
    const version = queue.version;
    return (timeout) => {
      if (queue.version !== version) return Promise.resolve();
      return new Promise((resolve) => {
        const done = () => {
          clearTimeout(timer);
          queue.listeners.delete(done);
          resolve();
        };
        // Unreferenced, as a listener is: a join alone does not keep the process alive.
        const timer = setTimeout(done, timeout).unref();
        queue.listeners.add(done);
      });
    };
  }

  protected async flushQueue(queueName: string): Promise<void> {
    const queue = this.#queue(queueName);
    queue.ready.drain();
    queue.delayed.drain();
    queue.inFlight.clear();
    queue.dead = [];
    if (queue.timer) clearTimeout(queue.timer);
    queue.timer = undefined;
    queue.notify();
  }

  async depths(queueName: string): Promise<QueueDepths> {
    const queue = this.#queue(queueName);
    return { ready: queue.ready.size, delayed: queue.delayed.size, inFlight: queue.inFlight.size, dead: queue.dead.length };
  }

  /** Since when the oldest ready message is due: its enqueue, or its eta when it was delayed. */
  override async oldestReadyAt(queueName: string): Promise<number | undefined> {
    let oldest: number | undefined;
    for (const entry of this.#queue(queueName).ready.values()) if (oldest === undefined || entry.eta < oldest) oldest = entry.eta;
    return oldest;
  }

  async deadLetters(queueName: string, limit = Infinity): Promise<StubDeadLetter[]> {
    return this.#queue(queueName).dead.slice(0, limit).map(({ seq: _seq, ...letter }) => letter);
  }

  async requeueDeadLetters(queueName: string, ids?: readonly string[]): Promise<number> {
    if (this.#closed) throw new DramatsError("StubBroker is closed");
    const queue = this.#queue(queueName);
    const wanted = ids === undefined ? undefined : new Set(ids);
    const moving = wanted === undefined ? queue.dead : queue.dead.filter((dead) => wanted.has(dead.id));
    if (moving.length === 0) return 0;
    // One synchronous step: no fetch or join sees a message in both places or in neither.
    queue.dead = wanted === undefined ? [] : queue.dead.filter((dead) => !wanted.has(dead.id));
    for (const dead of moving) {
      const message = this.reviveDeadLetter(dead.body);
      const body = message === undefined ? dead.body : this.encode(message);
      const entry: Entry = { id: ++this.#ids, body, priority: message ? this.priorityOf(message) : 0, seq: this.#seq++, eta: Date.now(), delayed: false, redelivered: false };
      queue.ready.push(entry);
    }
    queue.notify();
    return moving.length;
  }

  override get store(): MemoryKeyValueStore {
    return this.#store;
  }

  /** Worker records, in memory (lib/worker-registry.ts). */
  readonly workerRegistry = new MemoryWorkerRegistry();

  /** Reads its queues in place, for the dashboard (lib/queue-browser.ts). */
  readonly queueBrowser: QueueBrowser = new StubQueueBrowser({
    contents: (queueName) => {
      const queue = this.#queues.get(queueName);
      return queue && { ready: queue.ready.values(), delayed: queue.delayed.values(), dead: queue.dead };
    },
    deleteDead: (queueName, ids) => {
      const queue = this.#queues.get(queueName);
      const before = queue?.dead.length ?? 0;
      if (queue !== undefined) queue.dead = queue.dead.filter((dead) => !ids.has(dead.id));
      if (queue !== undefined && queue.dead.length !== before) queue.notify();
      return before - (queue?.dead.length ?? 0);
    },
    decode: (body) => this.decode(body),
  });
  /** Per-minute fleet history, in memory (lib/history-store.ts). */
  readonly historyStore = new MemoryHistoryStore();

  protected async closeConnections(): Promise<void> {
    this.#closed = true;
    for (const queue of this.#queues.values()) {
      if (queue.timer) clearTimeout(queue.timer);
      queue.timer = undefined;
    }
  }
}

/** Reads one stub queue. Closing it gives its unsettled messages back, as a dropped connection would. */
export class StubConsumer extends Consumer {
  readonly #broker: StubBroker;
  readonly #queueName: string;
  readonly #held = new Set<Entry>();
  readonly #waiting: { wake?: () => void } = {};
  #closed = false;

  constructor(broker: StubBroker, queueName: string, _prefetch: number) {
    super();
    this.#broker = broker;
    this.#queueName = queueName;
  }

  async fetch(max: number, timeout: number): Promise<StubDelivery[]> {
    if (this.#closed) return [];
    let entries = this.#broker.take(this.#queueName, max);
    if (entries.length === 0) {
      await this.#broker.waitForChange(this.#queueName, timeout, this.#waiting);
      if (this.#closed) return [];
      entries = this.#broker.take(this.#queueName, max);
    }
    for (const entry of entries) this.#held.add(entry);
    return entries.map((entry) => (entry.delayed ? { body: entry.body, redelivered: entry.redelivered, eta: entry.eta, entry } : { body: entry.body, redelivered: entry.redelivered, entry }));
  }

  async ack(delivery: Delivery): Promise<void> {
    const { entry } = delivery as StubDelivery;
    this.#held.delete(entry);
    this.#broker.settle(this.#queueName, entry, {});
  }

  async nack(delivery: Delivery, reason: string, error?: unknown): Promise<void> {
    const { entry } = delivery as StubDelivery;
    this.#held.delete(entry);
    this.#broker.settle(this.#queueName, entry, { dead: { reason, error } });
  }

  async retry(delivery: Delivery, message: Message, delay: number): Promise<void> {
    // One synchronous step in memory: the retry is written and the original acked together.
    const body = this.#broker.encode(message);
    this.#broker.enqueueRaw(message.queueName, body, { priority: this.#broker.priorityOf(message), delay });
    await this.ack(delivery);
  }

  async requeue(deliveries: Delivery[]): Promise<void> {
    const entries = deliveries.map((d) => (d as StubDelivery).entry);
    for (const entry of entries) this.#held.delete(entry);
    this.#broker.giveBack(this.#queueName, entries, false);
  }

  interrupt(): void {
    this.#waiting.wake?.();
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.interrupt();
    this.#broker.giveBack(this.#queueName, [...this.#held], true);
    this.#held.clear();
  }
}
