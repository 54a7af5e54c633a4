import type { Channel } from "amqplib";

/**
 * Broker-side delays on a stock RabbitMQ (no plugin): a per-queue ladder of TTL queues.
 *
 * A delay of `d` ms is written in binary with {@link LADDER_LEVELS} bits. Level `k` of queue `q`
 * is the queue `q.DL.k`, whose `x-message-ttl` is 2^k ms. A delayed message waits in the level
 * of every bit set in `d`, highest first, so it waits exactly `d` ms in total; every level holds
 * messages of a single TTL, so RabbitMQ's head-first expiry never holds a short delay behind a
 * long one. Nothing waits unacknowledged in a worker, so delays survive restarts and never meet
 * `consumer_timeout`.
 *
 * Routing (shared by every queue, declared once):
 * - the routing key is `<bit 29>.<bit 28>. … .<bit 0>.<kind>.<queue>` (`kind` is `q` to land on
 *   `q`, `dq` to land on `q.DQ`);
 * - each level has a topic exchange `dramats.delay.k`. It routes to `q.DL.k` when bit k is 1 and
 *   on to exchange `k-1` (or `dramats.delay.out` below level 0) when it is 0;
 * - `q.DL.k` dead-letters expired messages into exchange `k-1` (or `out`), keeping the routing
 *   key, so the next set bit decides where the message waits next;
 * - `dramats.delay.out` routes `…q.<queue>` to `q` and `…dq.<queue>` to `q.DQ`.
 *
 * Each hop costs about a millisecond, so a message arrives `d` ms plus about 1 ms per set bit
 * after it was confirmed; it never arrives early. Per queue: 30 level queues and 32 bindings.
 * Delays longer than {@link MAX_LADDER_DELAY} (about 12.4 days) wait the maximum, land on
 * `q.DQ` with their `eta`, and the `.DQ` consumer sends them round again for the rest.
 */

/** Bits in a delay, i.e. levels per queue. 2^30 ms is about 12.4 days, above Dramatiq's 7-day maximum backoff. */
export const LADDER_LEVELS = 30;

/** The longest delay one pass through the ladder can hold (ms). */
export const MAX_LADDER_DELAY = 2 ** LADDER_LEVELS - 1;

const EXCHANGE_PREFIX = "dramats.delay";
/** The exchange below level 0: hands finished delays to their queue. */
export const LADDER_OUT_EXCHANGE = `${EXCHANGE_PREFIX}.out`;

export type LadderTarget = "q" | "dq";

/** The level exchange `k`. */
export function levelExchange(level: number): string {
  return `${EXCHANGE_PREFIX}.${level}`;
}

/** The level queue `k` of a canonical queue. */
export function levelQueueName(queueName: string, level: number): string {
  return `${queueName}.DL.${level}`;
}

/** Every level queue of a canonical queue, lowest level first. */
export function levelQueueNames(queueName: string): string[] {
  return Array.from({ length: LADDER_LEVELS }, (_, level) => levelQueueName(queueName, level));
}

/** Where to publish a delayed message: the exchange of its highest set bit, and its routing key. */
export function ladderRoute(queueName: string, delay: number, target: LadderTarget = "q"): { exchange: string; routingKey: string } {
  const d = Math.round(delay);
  if (!(d >= 1 && d <= MAX_LADDER_DELAY)) throw new RangeError(`A ladder delay must be within 1..${MAX_LADDER_DELAY} ms, got ${delay}`);
  const words: string[] = [];
  for (let bit = LADDER_LEVELS - 1; bit >= 0; bit--) words.push(d & (2 ** bit) ? "1" : "0");
  const highest = Math.floor(Math.log2(d));
  return { exchange: levelExchange(highest), routingKey: `${words.join(".")}.${target}.${queueName}` };
}

const stars = (n: number) => Array.from({ length: n }, () => "*");

/** Binding key of `q.DL.k` on exchange `k`: bit k set, any kind, exactly this queue. */
function levelBindingKey(queueName: string, level: number): string {
  return [...stars(LADDER_LEVELS - 1 - level), "1", ...stars(level), "*", queueName].join(".");
}

/** Binding key from exchange `k` down to the next one: bit k clear. */
function passBindingKey(level: number): string {
  return [...stars(LADDER_LEVELS - 1 - level), "0", "#"].join(".");
}

function outBindingKey(queueName: string, target: LadderTarget): string {
  return [...stars(LADDER_LEVELS), target, queueName].join(".");
}

/** Where level `k` sends what it passes over or what expires in it. */
function below(level: number): string {
  return level === 0 ? LADDER_OUT_EXCHANGE : levelExchange(level - 1);
}

/** Declares the shared exchanges and their chain. Idempotent. */
export async function declareLadderExchanges(channel: Channel): Promise<void> {
  const pending: Promise<unknown>[] = [channel.assertExchange(LADDER_OUT_EXCHANGE, "topic", { durable: true })];
  for (let level = 0; level < LADDER_LEVELS; level++) {
    pending.push(channel.assertExchange(levelExchange(level), "topic", { durable: true }));
  }
  await Promise.all(pending);
  await Promise.all(
    Array.from({ length: LADDER_LEVELS }, (_, level) => channel.bindExchange(below(level), levelExchange(level), passBindingKey(level))),
  );
}

/**
 * Declares the level queues of one canonical queue and binds them, plus the bindings that
 * deliver into `q` and `q.DQ` (which must exist already). Idempotent.
 */
export async function declareLadderQueues(channel: Channel, queueName: string, dqName: string): Promise<void> {
  const pending: Promise<unknown>[] = [];
  for (let level = 0; level < LADDER_LEVELS; level++) {
    const name = levelQueueName(queueName, level);
    pending.push(
      channel.assertQueue(name, {
        durable: true,
        arguments: { "x-message-ttl": 2 ** level, "x-dead-letter-exchange": below(level) },
      }),
      channel.bindQueue(name, levelExchange(level), levelBindingKey(queueName, level)),
    );
  }
  pending.push(
    channel.bindQueue(queueName, LADDER_OUT_EXCHANGE, outBindingKey(queueName, "q")),
    channel.bindQueue(dqName, LADDER_OUT_EXCHANGE, outBindingKey(queueName, "dq")),
  );
  await Promise.all(pending);
}
