import { JsonEncoder, type Encoder } from "../../lib/encoder.ts";
import type { Message } from "../../lib/message.ts";
import { canonicalQueueName } from "../../lib/queue-names.ts";

/** What the Redis id adds to a payload at most: `,"redis_message_id":"<36-char uuid>"`. */
const ID_FIELD_LENGTH = 60;
/** Where a JsonEncoder payload's options end: the message id follows them. */
const OPTIONS_END = '},"message_id":"';

/**
 * The payload stored under `rid`, built from the body Broker.enqueue already encoded: Dramatiq's
 * workers ack by `options.redis_message_id`, so the stored payload must carry it. With the
 * default JSON encoder the id is spliced in as the last option, exactly where encoding again
 * would put it (the bytes are identical), instead of validating and encoding the message twice.
 * Anything else (another encoder, a message that already has an id or a `.DQ`/`.XQ` queue name,
 * a body near the size limit) is encoded again.
 */
export function storedPayload(encoder: Encoder, message: Message, body: string, rid: string): string {
  if (
    encoder.constructor === JsonEncoder &&
    message.options.redis_message_id === undefined &&
    message.queueName === canonicalQueueName(message.queueName) &&
    (body.length + ID_FIELD_LENGTH) * 3 <= (encoder as JsonEncoder).maxSize
  ) {
    // The message id is a JSON string and the timestamp a number, so the last occurrence of
    // the marker is the top-level one (nested options such as pipe_target come before it).
    const end = body.lastIndexOf(OPTIONS_END);
    if (end > 0) {
      const separator = body[end - 1] === "{" ? "" : ",";
      return `${body.slice(0, end)}${separator}"redis_message_id":"${rid}"${body.slice(end)}`;
    }
  }
  return encodePayload(encoder, message, rid);
}

/** The payload encoded from the message itself (retries, and the cases storedPayload leaves). */
export function encodePayload(encoder: Encoder, message: Message, rid: string): string {
  const data = message.asData();
  return encoder.encode({ ...data, queue_name: canonicalQueueName(data.queue_name), options: { ...data.options, redis_message_id: rid } });
}
