import type { ChannelModel, GetMessage } from "amqplib";
import type { DeadLetter } from "../../lib/broker.ts";
import { deadLetterQueueName } from "../../lib/queue-names.ts";
import { readDeadLetter } from "./dead-letters.ts";
import { translate } from "./publisher.ts";

/** Dead letters published back between two waits for confirms (and acks of `q.XQ`). */
const CONFIRM_BATCH = 200;

export interface RequeueDeadOptions {
  /** Which dead letters go back. */
  readonly select: (letter: DeadLetter) => boolean;
  /** The body and AMQP priority a chosen dead letter is published to `q` with. */
  readonly revive: (letter: DeadLetter, content: Buffer) => { body: Buffer; priority: number | undefined };
  readonly decodeId: (body: Buffer) => string;
  /** Stop reading `q.XQ` once this many were chosen (every requested id found). */
  readonly wanted?: number;
}

/**
 * Moves dead letters from `q.XQ` back to `q` on a channel of its own: reads `q.XQ` with
 * basic.get (unacknowledged), publishes each chosen message to `q` (persistent, confirmed), and
 * acks it in `q.XQ` only once RabbitMQ confirmed the copy. The rest go back to `q.XQ` when the
 * channel closes. AMQP cannot make the two queues change in one step: a crash between confirm
 * and ack leaves a message in both (never in neither), and it then runs once more than asked.
 * @returns how many were requeued.
 */
export async function requeueDeadLetters(model: ChannelModel, queueName: string, options: RequeueDeadOptions): Promise<number> {
  const channel = await model.createConfirmChannel().catch((error: unknown) => {
    throw translate(error);
  });
  channel.on("error", () => {});
  let moved = 0;
  let pending: GetMessage[] = [];
  const settle = async () => {
    if (pending.length === 0) return;
    await channel.waitForConfirms();
    for (const message of pending) channel.ack(message);
    moved += pending.length;
    pending = [];
  };
  try {
    let chosen = 0;
    while (options.wanted === undefined || chosen < options.wanted) {
      const message = await channel.get(deadLetterQueueName(queueName), { noAck: false });
      if (message === false) break;
      const letter = readDeadLetter(message, options.decodeId);
      if (!options.select(letter)) continue; // stays unacknowledged: back in q.XQ when the channel closes
      chosen++;
      const { body, priority } = options.revive(letter, message.content);
      channel.publish("", queueName, body, { persistent: true, priority, contentType: message.properties.contentType });
      pending.push(message);
      if (pending.length >= CONFIRM_BATCH) await settle();
    }
    await settle();
    return moved;
  } catch (error) {
    throw translate(error);
  } finally {
    // Closing requeues every message still unacknowledged, in its old place in q.XQ.
    await channel.close().catch(() => {});
  }
}
