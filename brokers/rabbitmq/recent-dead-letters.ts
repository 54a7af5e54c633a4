/** Dead letters remembered per queue for `join({ failFast })`. */
const RECENT_DEAD_LETTERS = 100;

interface RecentDeadLetter {
  readonly seq: number;
  readonly reason: string;
  readonly error: unknown;
}

/**
 * The dead letters this process wrote lately, per queue, with the actor's own error, so that
 * `join({ failFast })` can reject with that error rather than only with the reason RabbitMQ
 * keeps. Every dead letter gets a sequence number; `join` and `flush` note the last one they
 * accounted for, and a later `join` looks only at newer ones.
 */
export class RecentDeadLetters {
  readonly #recent = new Map<string, RecentDeadLetter[]>();
  /** Per queue, the sequence number a `join` or `flush` last accounted for. */
  readonly #seen = new Map<string, number>();
  #seq = 0;

  /** Remembers a dead letter of `queueName`; returns its sequence number. */
  remember(queueName: string, reason: string, error: unknown): number {
    let recent = this.#recent.get(queueName);
    if (recent === undefined) this.#recent.set(queueName, (recent = []));
    recent.push({ seq: ++this.#seq, reason, error });
    if (recent.length > RECENT_DEAD_LETTERS) recent.shift();
    return this.#seq;
  }

  /** A fresh sequence number (ids for dead letters that could not be decoded). */
  next(): number {
    return ++this.#seq;
  }

  /** The sequence number the previous `join` or `flush` of the queue accounted for. */
  seen(queueName: string): number {
    return this.#seen.get(queueName) ?? 0;
  }

  /** The first dead letter of the queue after sequence number `after`. */
  firstAfter(queueName: string, after: number): { reason: string; error: unknown } | undefined {
    return this.#recent.get(queueName)?.find((d) => d.seq > after);
  }

  /** Everything so far is accounted for (a `join` ended); with `forget`, drops the queue's list (`flush`). */
  markSeen(queueName: string, forget = false): void {
    if (forget) this.#recent.delete(queueName);
    this.#seen.set(queueName, this.#seq);
  }
}
