// The actors of the web-enqueue example, imported by both sides: the web server sends their
// messages and `dramats` workers run them. As in Dramatiq, importing this module configures
// the broker, so both sides agree on it:
//
//   BROKER_URL   redis://... (`?namespace=NS` prefixes its keys, as for `dramats --broker`) or
//                amqp://...; unset: the in-memory stub broker, which lives in one process
//                (server.ts then runs the worker itself)
//   RESULTS_URL  Redis for results; defaults to BROKER_URL when that is Redis
//
// Workers take the broker from here, so start them without --broker / DRAMATS_BROKER (those
// would replace this broker, and its Results middleware with it).
import { actor, Results, setBroker, StubResultBackend, type Broker, type ResultBackend } from "../../lib/index.ts";
import { StubBroker } from "../../brokers/stub.ts";

async function connect(env: NodeJS.ProcessEnv): Promise<{ broker: Broker; results: ResultBackend }> {
  const url = env.BROKER_URL || undefined;
  if (url === undefined) return { broker: new StubBroker(), results: new StubResultBackend() };

  const parsed = new URL(url);
  const redis = /^rediss?:$/.test(parsed.protocol);
  if (!redis && !/^amqps?:$/.test(parsed.protocol)) {
    throw new Error(`BROKER_URL must start with redis://, rediss://, amqp:// or amqps://, not ${parsed.protocol}//`);
  }
  const namespace = parsed.searchParams.get("namespace");
  parsed.searchParams.delete("namespace");
  const resultsUrl = env.RESULTS_URL || (redis ? parsed.href : undefined);
  if (resultsUrl === undefined) throw new Error("Set RESULTS_URL to a Redis URL: results are kept in Redis");

  // Adapters load lazily, so a Redis deployment never loads amqplib.
  const { RedisBroker, RedisResultBackend } = await import("../../brokers/redis/index.ts");
  const results = new RedisResultBackend({ url: resultsUrl });
  if (redis) return { broker: new RedisBroker({ url: parsed.href, ...(namespace ? { namespace } : {}) }), results };
  const { RabbitmqBroker } = await import("../../brokers/rabbitmq/index.ts");
  return { broker: new RabbitmqBroker({ url }), results };
}

export const { broker, results } = await connect(process.env);
broker.addMiddleware(new Results({ backend: results }));
setBroker(broker);

/** Raised for text with no words: retrying cannot help, so the actor lists it in `throws`. */
export class NothingToCount extends Error {
  override name = "NothingToCount";
}

export interface WordCount {
  words: number;
  distinct: number;
  /** The most frequent words, most frequent first (ties in alphabetical order). */
  top: { word: string; count: number }[];
}

/** Counts the words of a text; its return value is stored for the web server to report. */
export const countWords = actor(
  function countWords(text: string, top: number = 3): WordCount {
    const words = text.toLowerCase().match(/[\p{L}\p{N}']+/gu) ?? [];
    if (words.length === 0) throw new NothingToCount("the text has no words");
    const counts = new Map<string, number>();
    for (const word of words) counts.set(word, (counts.get(word) ?? 0) + 1);
    const ranked = [...counts].sort(([a, m], [b, n]) => n - m || a.localeCompare(b));
    return { words: words.length, distinct: counts.size, top: ranked.slice(0, top).map(([word, count]) => ({ word, count })) };
  },
  { queueName: "text", storeResults: true, throws: NothingToCount, timeLimit: 10_000 },
);
