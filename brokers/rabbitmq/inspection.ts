import type { Channel } from "amqplib";
import type { Broker, DeadLetter, QueueDepths, QueueLook } from "../../lib/broker.ts";
import { deadLetterQueueName, delayQueueName } from "../../lib/queue-names.ts";
import { sleep } from "../../lib/sleep.ts";
import { busyQueueName } from "./busy-marker.ts";
import type { Connector } from "./connector.ts";
import { readDeadLetter } from "./dead-letters.ts";
import type { Declarations } from "./declarations.ts";
import { levelQueueNames } from "./delays.ts";
import type { LocalCounts } from "./local-counts.ts";
import { translate } from "./publisher.ts";
import type { RecentDeadLetters } from "./recent-dead-letters.ts";
import { requeueDeadLetters } from "./requeue-dead.ts";
import { amqpPriority } from "./topology.ts";

/** How long after an idle look a join looks again to be sure: a message moving between two queues is briefly in neither (ms). */
const JOIN_RECHECK = 20;

/**
 * Where a join starts looking for dead letters: after this process's dead letter number `seq`,
 * and beyond the first `dead` messages of `q.XQ` (undefined: as many as it held when this broker
 * declared the queue).
 */
export interface DeadLetterCursor {
  readonly seq: number;
  readonly dead: number | undefined;
}

/** What the inspector uses of its broker: the message codec, priorities and dead-letter revival. */
type Codec = Pick<Broker, "encode" | "decode" | "priorityOf" | "reviveDeadLetter">;

/**
 * The broker's view of a queue from RabbitMQ (message counts by passive declare, dead letters by
 * basic.get) and from what this process holds: `depths`, the looks of `join`, `flush`,
 * `deadLetters` and `requeueDeadLetters`. The broker checks the queue name and declares the queue first.
 */
export class Inspector {
  readonly #connector: Connector;
  readonly #declarations: Declarations;
  readonly #counts: LocalCounts;
  readonly #deadLetters: RecentDeadLetters;
  readonly #codec: Codec;
  readonly #maxPriority: number | undefined;
  readonly #discardPrefetched: (queueName: string) => void;
  readonly #busyHere: (queueName: string) => number;
  readonly #busySettled: (queueName: string) => Promise<void>;

  constructor(options: {
    connector: Connector;
    declarations: Declarations;
    counts: LocalCounts;
    deadLetters: RecentDeadLetters;
    codec: Codec;
    maxPriority: number | undefined;
    /** Drops what this process's consumers of the queue prefetched but did not hand out. */
    discardPrefetched: (queueName: string) => void;
    /** How many of this broker's consumers of the queue RabbitMQ counts as busy on `q.IF`. */
    busyHere: (queueName: string) => number;
    /** Resolves when no busy marker of this broker's consumers of the queue is being changed. */
    busySettled: (queueName: string) => Promise<void>;
  }) {
    this.#connector = options.connector;
    this.#declarations = options.declarations;
    this.#counts = options.counts;
    this.#deadLetters = options.deadLetters;
    this.#codec = options.codec;
    this.#maxPriority = options.maxPriority;
    this.#discardPrefetched = options.discardPrefetched;
    this.#busyHere = options.busyHere;
    this.#busySettled = options.busySettled;
  }

  /**
   * `inFlight` is what this broker's consumers fetched and have not settled, plus one for each
   * consumer elsewhere (another process, another broker) that holds deliveries of the queue: at
   * least one each, and AMQP tells no more (see `busy-marker.ts`). So it is exact here, a lower
   * bound across processes, and 0 exactly when no consumer anywhere holds a message of the queue.
   */
  async depths(queueName: string): Promise<QueueDepths> {
    // Our own markers first, so that RabbitMQ's count and ours agree about them.
    await this.#busySettled(queueName);
    const busyHere = this.#busyHere(queueName);
    // Upstream first (delay queue, ladder from the top, then q): a message moving down the
    // ladder while we look is seen in the later queue rather than missed. The markers last: a
    // message that left q while we looked is then held by a marked consumer.
    const names = [delayQueueName(queueName), ...levelQueueNames(queueName).reverse(), queueName, deadLetterQueueName(queueName)];
    const [counts, busy] = await this.#declarations.withAdmin(async (channel) => {
      const messages = await Promise.all(names.map((name) => channel.checkQueue(name).then((ok) => ok.messageCount)));
      return [messages, (await channel.checkQueue(busyQueueName(queueName))).consumerCount] as const;
    });
    const dead = counts.pop()!;
    const ready = counts.pop()!;
    const local = this.#counts.of(queueName);
    const delayed = counts.reduce((a, b) => a + b, 0) + local.moving;
    const busyElsewhere = Math.max(0, busy - Math.min(busyHere, this.#busyHere(queueName)));
    return { ready: ready + local.prefetched, delayed, inFlight: local.inFlight + busyElsewhere, dead };
  }

  /** The cursor now: `q.XQ`'s count once the queue is declared, else the count the declaration finds. */
  cursor(queueName: string): DeadLetterCursor | Promise<DeadLetterCursor> {
    const seq = this.#deadLetters.last;
    if (!this.#declarations.isDeclared(queueName)) return { seq, dead: undefined };
    return this.#declarations.withAdmin((channel) => channel.checkQueue(deadLetterQueueName(queueName))).then((ok) => ({ seq, dead: ok.messageCount }));
  }

  /**
   * Idle when two looks `JOIN_RECHECK` ms apart find `depths` all zero. Dead letters: this
   * process's own by number, others' by `q.XQ` growing past the cursor's count (counted, not
   * identified: a dead letter requeued meanwhile hides one written by another process).
   */
  async look(queueName: string, after: DeadLetterCursor, deadLetters: boolean): Promise<QueueLook<DeadLetterCursor>> {
    // Before counting: every dead letter recorded up to `seq` is in q.XQ's count.
    const seq = this.#deadLetters.last;
    let depths = await this.depths(queueName);
    if (isIdle(depths)) {
      await sleep(JOIN_RECHECK);
      depths = await this.depths(queueName);
    }
    const idle = isIdle(depths);
    const cursor = { seq, dead: depths.dead };
    if (!deadLetters) return { idle, cursor };
    // After counting: one of ours confirmed while we counted is recognised as ours.
    const own = this.#deadLetters.firstAfter(queueName, after.seq);
    if (own !== undefined) return { idle, cursor, dead: { id: String(own.seq), messageId: own.messageId, reason: own.reason } };
    const from = after.dead ?? this.#declarations.deadAtDeclaration(queueName) ?? depths.dead;
    if (depths.dead <= from) return { idle, cursor };
    // q.XQ is first in, first out: the first new one follows the `from` counted before.
    const letters = await this.deadLetters(queueName, from + 1);
    const first = letters[from] ?? letters[letters.length - 1];
    const messageId = first?.id ?? "?";
    return { idle, cursor, dead: { id: `XQ:${messageId}`, messageId, reason: first?.reason ?? "unknown reason" } };
  }

  async flush(queueName: string): Promise<void> {
    this.#discardPrefetched(queueName);
    const names = [queueName, delayQueueName(queueName), deadLetterQueueName(queueName), ...levelQueueNames(queueName)];
    await this.#declarations.withAdmin((channel) => Promise.all(names.map((name) => channel.purgeQueue(name))));
    // Deliveries RabbitMQ pushed to our consumers before the purge may land only now.
    this.#discardPrefetched(queueName);
    this.#deadLetters.forget(queueName);
  }

  async deadLetters(queueName: string, limit = Infinity): Promise<DeadLetter[]> {
    const model = await this.#connector.ready();
    let channel: Channel | undefined;
    try {
      channel = await model.createChannel();
      channel.on("error", () => {});
      const letters: DeadLetter[] = [];
      while (letters.length < limit) {
        const message = await channel.get(deadLetterQueueName(queueName), { noAck: false });
        if (message === false) break;
        letters.push(readDeadLetter(message, (body) => this.#codec.decode(body).messageId));
      }
      return letters;
    } catch (error) {
      throw translate(error);
    } finally {
      await channel?.close().catch(() => {});
    }
  }

  async requeueDeadLetters(queueName: string, ids?: readonly string[]): Promise<number> {
    const wanted = ids === undefined ? undefined : new Set(ids);
    return requeueDeadLetters(await this.#connector.ready(), queueName, {
      select: (letter) => wanted === undefined || wanted.has(letter.id),
      revive: (_letter, content) => {
        const message = this.#codec.reviveDeadLetter(content);
        if (message === undefined) return { body: content, priority: amqpPriority(0, this.#maxPriority) };
        return { body: Buffer.from(this.#codec.encode(message)), priority: amqpPriority(this.#codec.priorityOf(message), this.#maxPriority) };
      },
      decodeId: (body) => this.#codec.decode(body).messageId,
      ...(wanted === undefined ? {} : { wanted: wanted.size }),
    });
  }
}

const isIdle = (depths: QueueDepths) => depths.ready + depths.delayed + depths.inFlight === 0;
