// The RabbitMQ limit: a raw amqplib loop in the bench process. Confirmed publish (persistent
// messages on a durable queue, every publish written at once, then waitForConfirms) and a
// consumer with prefetch 100 that JSON-decodes and acks each message.
import amqp, { type Channel, type ChannelModel, type ConfirmChannel } from "amqplib";
import { Message } from "../../lib/message.ts";
import { AMQP_URL, MESSAGES, RUN_ID } from "./config.ts";
import { deleteRabbitQueues } from "./cleanup.ts";
import { nowNs } from "./proc.ts";
import { seconds, type ThroughputSubject } from "./subject.ts";

const PREFETCH = 100;

export class RawAmqpSubject implements ThroughputSubject {
  readonly name = "raw amqplib";
  readonly #queue = `bench_${RUN_ID}_raw`;
  #connection!: ChannelModel;
  #publisher!: ConfirmChannel;
  #consumer!: Channel;

  async setup(): Promise<void> {
    this.#connection = await amqp.connect(AMQP_URL);
    this.#publisher = await this.#connection.createConfirmChannel();
    await this.#publisher.assertQueue(this.#queue, { durable: true });
    this.#consumer = await this.#connection.createChannel();
    await this.#consumer.prefetch(PREFETCH);
    await this.#publish(Math.min(MESSAGES, 5_000));
    await this.#consume(Math.min(MESSAGES, 5_000));
  }

  async #publish(count: number): Promise<void> {
    const channel = this.#publisher;
    for (let i = 0; i < count; i++) {
      const body = Buffer.from(JSON.stringify(new Message({ queueName: this.#queue, actorName: "bench_noop", args: [i] }).asData()));
      if (!channel.publish("", this.#queue, body, { persistent: true })) await new Promise((r) => channel.once("drain", r));
    }
    await channel.waitForConfirms();
  }

  async #consume(count: number): Promise<void> {
    const channel = this.#consumer;
    let done = 0;
    let tag = "";
    await new Promise<void>((resolve, reject) => {
      channel
        .consume(this.#queue, (msg) => {
          if (msg === null) return reject(new Error("raw amqplib: consumer cancelled"));
          JSON.parse(msg.content.toString("utf8"));
          channel.ack(msg);
          if (++done === count) resolve();
        })
        .then((ok) => (tag = ok.consumerTag), reject);
    });
    await channel.cancel(tag);
  }

  async round(): Promise<Record<string, number>> {
    const t0 = nowNs();
    await this.#publish(MESSAGES);
    const t1 = nowNs();
    const cpu0 = process.cpuUsage();
    const start = nowNs();
    await this.#consume(MESSAGES);
    const end = nowNs();
    const cpu = process.cpuUsage(cpu0);
    return {
      enqueue_confirmed: MESSAGES / seconds(t0, t1),
      drain: MESSAGES / seconds(start, end),
      worker_cpu_us: (cpu.user + cpu.system) / MESSAGES,
    };
  }

  async teardown(): Promise<void> {
    await this.#connection?.close().catch(() => undefined);
    await deleteRabbitQueues([this.#queue], true);
  }
}
