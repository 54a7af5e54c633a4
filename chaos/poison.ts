// Hostile input for the poison scenario, written through the producer's public API: an encoder
// that writes bytes no worker can decode for one marker actor, and plain messages naming an
// actor nobody declared or too large for the workers' size limit.
import { randomUUID } from "node:crypto";
import { JsonEncoder, type Encoder } from "../lib/encoder.ts";
import type { MessageData } from "../lib/message.ts";

/** The actor name whose messages PoisonEncoder turns into undecodable bytes. */
export const GARBAGE_ACTOR = "chaos_garbage";
export const UNKNOWN_ACTOR = "chaos_no_such_actor";
/** The workers' message size limit in the poison scenario (DRAMATS_MAX_MESSAGE_SIZE). */
export const WORKER_MAX_SIZE = 64 * 1024;
/** An oversized message's argument: over the workers' limit, within the producer's. */
export const OVERSIZED_ARG = "x".repeat(WORKER_MAX_SIZE * 2);

export class PoisonEncoder implements Encoder {
  // The producer may write what the workers refuse: its limit is its own, not the environment's.
  readonly #json = new JsonEncoder({ maxSize: 1024 * 1024 });
  readonly #prefix: string;

  /** `nul: false` for a broker whose text cannot hold a NUL character (PostgreSQL refuses it at enqueue). */
  constructor(options: { nul?: boolean } = {}) {
    this.#prefix = options.nul === false ? "" : "\u0000";
  }

  encode(data: MessageData): string {
    if (data.actor_name === GARBAGE_ACTOR) return `${this.#prefix}not json {${data.message_id}`;
    return this.#json.encode(data);
  }

  decode(data: string | Buffer): MessageData {
    return this.#json.decode(data);
  }
}

/** The hostile corpus's actor (app.ts): `chaos_hostile(tag, payload?, failWith?)`. */
export const HOSTILE_ACTOR = "chaos_hostile";

/**
 * Text built to hurt whatever scans it: a backtracking trap for URL-credential patterns (a long
 * scheme-like run, `://a:`, then a long run with no `@`), control characters, line and paragraph
 * separators, a lone surrogate, bidirectional overrides, terminal escapes, JSON and log syntax.
 */
export const ADVERSARIAL =
  "a".repeat(20_000) + "://a:" + "b".repeat(20_000) + "\u0000\u0007\b\f\r\n\u2028\u2029\ud800\u202e\u001b[2J\u001b]0;x\u0007" + '"},{"level":60,"msg":"forged"}\n' + "%s%n%d${x}";

/** How a hostile message must end. */
export type HostileOutcome = "processed" | "dead-lettered" | "refused at enqueue";

export interface HostileCase {
  readonly name: string;
  readonly expect: HostileOutcome;
  /** The raw bodies to write for the message tagged `tag` on `queue`. */
  body(queue: string, tag: string): string | Buffer;
  /** Only where the broker can carry it (SQLite stores bodies as text). */
  readonly brokers?: readonly string[];
  /**
   * A looser event-loop bound (ms) on brokers that must hand the whole body to the worker before
   * it can be refused: RabbitMQ delivers the 10 MB (amqplib joins ~80 frames) and the dead
   * letter is published back; Redis and SQLite never hand it over.
   */
  readonly maxLag?: Readonly<Record<string, number>>;
  /** Brokers that refuse the body when it is written (SQLite: over the size limit), where `expect` becomes "refused at enqueue". */
  readonly refusedBy?: readonly string[];
}

/** A message body as a raw producer writes it: `rest` is spliced in after the args. */
function raw(queue: string, args: string, kwargs = "{}", options = "{}"): string {
  return `{"queue_name":"${queue}","actor_name":"${HOSTILE_ACTOR}","args":${args},"kwargs":${kwargs},"options":${options},"message_id":"${randomUUID()}","message_timestamp":${Date.now()}}`;
}

/** `args` of `levels` levels as the encoder counts them (the args array is the first). */
const nested = (tag: string, levels: number) => `["${tag}",${"[".repeat(levels - 1)}${"]".repeat(levels - 1)}]`;
const text = JSON.stringify(ADVERSARIAL);
const pollution = '{"__proto__":{"polluted":true},"constructor":{"prototype":{"polluted":true}}}';

export const HOSTILE_CASES: readonly HostileCase[] = [
  { name: "adversarial string in args", expect: "processed", body: (q, tag) => raw(q, `["${tag}",${text}]`) },
  { name: "adversarial string in kwargs", expect: "processed", body: (q, tag) => raw(q, `["${tag}"]`, `{"note":${text}}`) },
  { name: "adversarial string in options", expect: "processed", body: (q, tag) => raw(q, `["${tag}"]`, "{}", `{"note":${text}}`) },
  { name: "adversarial string as the error message", expect: "dead-lettered", body: (q, tag) => raw(q, `["${tag}",null,${text}]`) },
  { name: "10 MB string", expect: "dead-lettered", refusedBy: ["sqlite", "postgres"], maxLag: { rabbitmq: 300 }, body: (q, tag) => raw(q, `["${tag}","${"x".repeat(10 * 1024 * 1024)}"]`) },
  { name: "nesting: 127 levels", expect: "processed", body: (q, tag) => raw(q, nested(tag, 127)) },
  { name: "nesting: 128 levels", expect: "processed", body: (q, tag) => raw(q, nested(tag, 128)) },
  { name: "nesting: 129 levels", expect: "dead-lettered", body: (q, tag) => raw(q, nested(tag, 129)) },
  { name: "nesting: 10,000 levels", expect: "dead-lettered", body: (q, tag) => raw(q, nested(tag, 10_000)) },
  { name: "`__proto__` and `constructor` keys", expect: "processed", body: (q, tag) => raw(q, `["${tag}",${pollution}]`, pollution, pollution) },
  {
    name: "invalid UTF-8 in a string",
    expect: "processed",
    brokers: ["redis", "rabbitmq"],
    body: (q, tag) => {
      const [head, tail] = raw(q, `["${tag}","@@"]`).split("@@");
      // A lone continuation, a truncated sequence and an encoded surrogate: none is UTF-8.
      return Buffer.from([...Buffer.from(head!), 0xff, 0xfe, 0xc3, 0x28, 0xed, 0xa0, 0x80, ...Buffer.from(tail!)]);
    },
  },
  { name: "numbers past 2^53 (and past a double)", expect: "processed", body: (q, tag) => raw(q, `["${tag}",[9007199254740993,-9007199254740993,123456789012345678901234567890,1e400]]`) },
  { name: "options out of range", expect: "dead-lettered", body: (q, tag) => raw(q, `["${tag}"]`, "{}", '{"retries":-5,"max_retries":null,"time_limit":"forever"}') },
];
