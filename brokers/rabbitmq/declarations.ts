import type { Channel } from "amqplib";
import { InvalidOptions } from "../../lib/errors.ts";
import type { Logger } from "../../lib/logging.ts";
import { deadLetterQueueName, delayQueueName } from "../../lib/queue-names.ts";
import { busyQueueName } from "./busy-marker.ts";
import { explainDeclareError } from "./declare-errors.ts";
import type { Connector } from "./connector.ts";
import { declareLadderExchanges, declareLadderQueues, levelQueueNames } from "./delays.ts";
import type { RabbitmqSettings } from "./options.ts";
import { translate } from "./publisher.ts";
import { dramatiqQueues } from "./topology.ts";

/** Every RabbitMQ queue dramats declares for the queue: `q`, `q.DQ`, `q.XQ`, `q.IF` and the delay ladder. */
export function rabbitmqQueueNames(queueName: string): string[] {
  return [queueName, delayQueueName(queueName), deadLetterQueueName(queueName), busyQueueName(queueName), ...levelQueueNames(queueName)];
}

/** Routing keys end with `.<queue>`; with 60 bytes of delay bits in front they must stay within 255. */
const MAX_QUEUE_NAME_BYTES = 180;

/**
 * The broker's topology work on its admin channel: declares each queue's `q`, `q.DQ`, `q.XQ`,
 * `q.IF` and delay ladder once (concurrent callers share the declaration), and forgets a declaration
 * when the queue turns out to be gone, so that the next use declares it again.
 */
export class Declarations {
  readonly #connector: Connector;
  readonly #settings: RabbitmqSettings;
  readonly #log: Logger;
  #admin: Channel | undefined;
  #adminOpening: Promise<Channel> | undefined;
  #exchanges: Promise<void> | undefined;
  readonly #declaring = new Map<string, Promise<void>>();
  /** Queues whose topology is known to exist: the publish fast path skips the await. */
  readonly #declared = new Set<string>();
  /** Per queue, how many dead letters `q.XQ` held when this broker declared it. */
  readonly #deadAtDeclaration = new Map<string, number>();

  constructor(connector: Connector, settings: RabbitmqSettings, logger: Logger) {
    this.#connector = connector;
    this.#settings = settings;
    this.#log = logger;
  }

  isDeclared(queueName: string): boolean {
    return this.#declared.has(queueName);
  }

  /** How many messages `q.XQ` held when this broker (last) declared it; undefined before that. */
  deadAtDeclaration(queueName: string): number | undefined {
    return this.#deadAtDeclaration.get(queueName);
  }

  isDeclaring(queueName: string): boolean {
    return this.#declaring.has(queueName);
  }

  /** Runs `operation` on the admin channel, translating amqplib errors to typed ones. */
  async withAdmin<T>(operation: (channel: Channel) => Promise<T>): Promise<T> {
    try {
      return await operation(await this.#adminChannel());
    } catch (error) {
      throw translate(explainDeclareError(error));
    }
  }

  /** Declares `q`, `q.DQ`, `q.XQ` (Dramatiq's arguments) and the queue's delay ladder. Once per broker. */
  ensure(queueName: string): Promise<void> {
    if (this.#declared.has(queueName)) return Promise.resolve();
    let pending = this.#declaring.get(queueName);
    if (pending === undefined) {
      pending = this.#declare(queueName).then(
        () => {
          this.#declared.add(queueName);
          this.#declaring.delete(queueName);
        },
        (error: unknown) => {
          this.#declaring.delete(queueName);
          throw error;
        },
      );
      this.#declaring.set(queueName, pending);
    }
    return pending;
  }

  /** Forgets what was declared, so the next use declares again (after a queue was deleted). */
  undeclare(queueName: string): void {
    this.#declared.delete(queueName);
    this.#exchanges = undefined;
  }

  async #adminChannel(): Promise<Channel> {
    if (this.#admin) return this.#admin;
    this.#adminOpening ??= (async () => {
      try {
        const model = await this.#connector.ready();
        const channel = await model.createChannel();
        channel.on("error", (error: Error) => {
          // A 406 (a queue declared with other arguments) reaches its caller as QueueArgumentsMismatch.
          if ((error as { code?: unknown }).code === 406) this.#log.debug({ err: error }, "RabbitMQ admin channel closed by a 406");
          else this.#log.warn({ err: error }, "RabbitMQ admin channel error");
        });
        channel.on("close", () => {
          if (this.#admin === channel) this.#admin = undefined;
        });
        this.#admin = channel;
        return channel;
      } finally {
        this.#adminOpening = undefined;
      }
    })();
    return this.#adminOpening;
  }

  async #declare(queueName: string): Promise<void> {
    if (Buffer.byteLength(queueName) > MAX_QUEUE_NAME_BYTES) {
      throw new InvalidOptions(`Queue name ${JSON.stringify(queueName)} is too long for RabbitMQ delays (at most ${MAX_QUEUE_NAME_BYTES} bytes)`);
    }
    this.#exchanges ??= this.withAdmin(declareLadderExchanges).catch((error: unknown) => {
      this.#exchanges = undefined;
      throw error;
    });
    await this.#exchanges;
    await this.withAdmin(async (channel) => {
      const queues = dramatiqQueues(queueName, this.#settings);
      const settled = await Promise.allSettled(queues.map((q) => channel.assertQueue(q.name, { durable: true, arguments: q.arguments })));
      // A 406 closes the admin channel (the next use opens another), so the other declarations
      // fail with "channel ended": report the 406, which says which argument differs.
      const failures = settled.flatMap((s) => (s.status === "rejected" ? [s.reason as unknown] : []));
      if (failures.length > 0) throw explainDeclareError(failures.find((e) => (e as { code?: unknown } | null)?.code === 406) ?? failures[0]);
      const declared = settled.flatMap((s) => (s.status === "fulfilled" ? [s.value] : []));
      const dead = declared.find((ok) => ok.queue === deadLetterQueueName(queueName));
      if (dead !== undefined) this.#deadAtDeclaration.set(queueName, dead.messageCount);
      // Never holds a message: its consumers mark the consumers of q that hold deliveries.
      await channel.assertQueue(busyQueueName(queueName), { durable: true });
      await declareLadderQueues(channel, queueName, delayQueueName(queueName));
    });
  }
}
