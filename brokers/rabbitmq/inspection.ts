import type { Channel } from "amqplib";
import type { Broker, DeadLetter, JoinOptions, QueueDepths } from "../../lib/broker.ts";
import { BrokerError, QueueJoinTimeout } from "../../lib/errors.ts";
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

/** How often `join` looks at the queue, and how many idle looks in a row make it drained. */
const JOIN_POLL_INTERVAL = 20;
const JOIN_IDLE_CHECKS = 2;

/** What the inspector uses of its broker: the message codec, priorities and dead-letter revival. */
type Codec = Pick<Broker, "encode" | "decode" | "priorityOf" | "reviveDeadLetter">;

/**
 * The broker's view of a queue from RabbitMQ (message counts by passive declare, dead letters by
 * basic.get) and from what this process holds: `depths`, `join`, `flush`, `deadLetters` and
 * `requeueDeadLetters`. The broker checks the queue name and declares the queue first.
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

  async join(queueName: string, options: JoinOptions): Promise<void> {
    try {
      await this.#join(queueName, options);
    } finally {
      this.#deadLetters.markSeen(queueName);
    }
  }

  async #join(queueName: string, options: JoinOptions): Promise<void> {
    const failFast = options.failFast ?? true;
    const deadline = options.timeout === undefined ? Infinity : Date.now() + options.timeout;
    const startSeq = this.#deadLetters.seen(queueName);
    const start = await this.depths(queueName);
    let idle = 0;
    for (;;) {
      const depths = await this.depths(queueName);
      if (failFast) {
        const local = this.#deadLetters.firstAfter(queueName, startSeq);
        if (local) throw local.error ?? new BrokerError(`A message of ${JSON.stringify(queueName)} was dead-lettered: ${local.reason}`);
        if (depths.dead > start.dead) {
          const letters = await this.deadLetters(queueName, start.dead + 1);
          const first = letters[start.dead] ?? letters[letters.length - 1];
          throw new BrokerError(`Message ${first?.id ?? "?"} of ${JSON.stringify(queueName)} was dead-lettered: ${first?.reason ?? "unknown reason"}`);
        }
      }
      idle = depths.ready + depths.delayed + depths.inFlight === 0 ? idle + 1 : 0;
      if (idle >= JOIN_IDLE_CHECKS) return;
      if (Date.now() >= deadline) throw new QueueJoinTimeout(queueName, options.timeout!);
      await sleep(Math.max(0, Math.min(JOIN_POLL_INTERVAL, deadline - Date.now())));
    }
  }

  async flush(queueName: string): Promise<void> {
    this.#discardPrefetched(queueName);
    const names = [queueName, delayQueueName(queueName), deadLetterQueueName(queueName), ...levelQueueNames(queueName)];
    await this.#declarations.withAdmin((channel) => Promise.all(names.map((name) => channel.purgeQueue(name))));
    // Deliveries RabbitMQ pushed to our consumers before the purge may land only now.
    this.#discardPrefetched(queueName);
    this.#deadLetters.markSeen(queueName, true);
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
