import { JsonEncoder, type Encoder } from "../../lib/encoder.ts";
import type { Message } from "../../lib/message.ts";
import { delayQueueName } from "../../lib/queue-names.ts";
import type { RedisDelays, RedisPriorities } from "./options.ts";
import { encodePayload, storedPayload } from "./payload.ts";

/** One message as enqueue.lua (and retry.lua, enqueue-once.lua) store it: rid, payload, priority, delay, dq, eta tail. */
export type StoreEntry = [rid: string, payload: string, priority: number, delay: number, dq: "0" | "1" | "2", tail: string];

/** Where the eta goes in a JsonEncoder payload: the last option, right before the message id. */
const ETA_MARK = '"eta":0},"message_id":"';

/**
 * Where a message is written on Redis: Dramatiq's layout (the default: delays in `ns:q.DQ`, one
 * list `ns:q` whatever the priority) or dramats' fast path (`delays: "zset"`, `priorities:
 * "levels"`), and the payload each place holds. See the README's "Sharing queues with Python".
 */
export class RedisLayout {
  constructor(
    readonly delays: RedisDelays,
    readonly priorities: RedisPriorities,
    readonly encoder: Encoder,
  ) {}

  /** The priority stored at the broker: 0 unless `priorities` is `"levels"`. */
  priority(priority: number): number {
    if (this.priorities !== "levels") return 0;
    const p = Math.round(priority);
    return Number.isFinite(p) ? p : 0;
  }

  /**
   * What `store` writes for `message` under `rid`. `body` is the already encoded message (for
   * the spliced fast payload), or undefined to encode it here (retries).
   */
  entry(message: Message, body: string | undefined, rid: string, priority: number, delay: number): StoreEntry {
    const p = this.priority(priority);
    const d = Math.max(0, Math.round(delay));
    if (d === 0 || this.delays === "zset") {
      const payload = body === undefined ? encodePayload(this.encoder, message, rid) : storedPayload(this.encoder, message, body, rid);
      return [rid, payload, p, Number.isFinite(d) ? d : 0, "0", ""];
    }
    // Exactly what Dramatiq's RedisBroker.enqueue writes for a delay (redis.py:166-180): the
    // message renamed to `q.DQ`, `redis_message_id`, then `eta` (epoch ms) as its last option.
    // With the JSON encoder the eta (server clock + delay) is spliced in by the script, between
    // a head ending in `"eta":` and the tail.
    if (isJsonEncoder(this.encoder)) {
      const spliced = this.#fastDelayed(message, body, rid);
      if (spliced !== undefined) return [rid, spliced[0], p, d, "2", spliced[1]];
    }
    const data = message.asData();
    const { eta: _old, ...options } = data.options;
    const dqData = { ...data, queue_name: delayQueueName(data.queue_name), options: { ...options, redis_message_id: rid, eta: 0 } };
    if (isJsonEncoder(this.encoder)) {
      const full = this.encoder.encode(dqData);
      const at = full.lastIndexOf(ETA_MARK);
      if (at > 0) return [rid, full.slice(0, at + 6), p, d, "2", full.slice(at + 7)];
    }
    // Another encoder: the eta by this host's clock, as Dramatiq's producers write it.
    return [rid, this.encoder.encode({ ...dqData, options: { ...dqData.options, eta: Date.now() + d } }), p, d, "1", ""];
  }

  /**
   * The delay-queue payload as head and tail around the eta, made from the ready payload by
   * renaming the queue and appending `"eta":` as the last option: byte for byte what encoding
   * it again gives (spec/brokers/redis-payload.spec.ts), without a second encode. Undefined
   * where that could differ (an `eta` option already there, an unexpected shape, near the size limit).
   */
  #fastDelayed(message: Message, body: string | undefined, rid: string): [head: string, tail: string] | undefined {
    if (message.options.eta !== undefined) return undefined;
    const stored = body === undefined ? encodePayload(this.encoder, message, rid) : storedPayload(this.encoder, message, body, rid);
    if ((stored.length + 64) * 3 > (this.encoder as JsonEncoder).maxSize) return undefined;
    const queue = `{"queue_name":${JSON.stringify(message.queueName)},`;
    const end = stored.lastIndexOf(OPTIONS_END);
    if (!stored.startsWith(queue) || end <= queue.length) return undefined;
    const head = `{"queue_name":${JSON.stringify(delayQueueName(message.queueName))},${stored.slice(queue.length, end)},"eta":`;
    return [head, stored.slice(end)];
  }
}

/** Where a JsonEncoder payload's options end: the message id follows them. */
const OPTIONS_END = '},"message_id":"';

/** Exactly the default JSON encoder (a subclass may write another shape). */
function isJsonEncoder(encoder: Encoder): boolean {
  return encoder.constructor === JsonEncoder;
}
