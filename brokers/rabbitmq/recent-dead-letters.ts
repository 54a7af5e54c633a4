/** Dead letters this process wrote that are kept per queue, for `join`. */
const RECENT_DEAD_LETTERS = 100;

export interface RecentDeadLetter {
  readonly seq: number;
  readonly messageId: string;
  readonly reason: string;
}

/**
 * The dead letters this process wrote lately, per queue, numbered in the order RabbitMQ confirmed
 * them. `q.XQ` can be counted but not searched, so a join finds this process's dead letters here
 * (and hands the broker their actor errors by number); only growth of `q.XQ` beyond them tells of
 * another process's.
 */
export class RecentDeadLetters {
  readonly #recent = new Map<string, RecentDeadLetter[]>();
  readonly #remember: (queueName: string, id: string, error: unknown) => void;
  #seq = 0;

  /** `remember` keeps the actor's error under the dead letter's number (see `Broker.rememberDeadLetter`). */
  constructor(remember: (queueName: string, id: string, error: unknown) => void) {
    this.#remember = remember;
  }

  /** The last number given: every dead letter recorded up to it is in `q.XQ`. */
  get last(): number {
    return this.#seq;
  }

  /** A dead letter RabbitMQ confirmed in `q.XQ`. */
  record(queueName: string, messageId: string, reason: string, error: unknown): void {
    let recent = this.#recent.get(queueName);
    if (recent === undefined) this.#recent.set(queueName, (recent = []));
    recent.push({ seq: ++this.#seq, messageId, reason });
    if (recent.length > RECENT_DEAD_LETTERS) recent.shift();
    this.#remember(queueName, String(this.#seq), error);
  }

  /** A fresh number (ids for dead letters that could not be decoded). */
  next(): number {
    return ++this.#seq;
  }

  /** The first dead letter of the queue numbered after `after`. */
  firstAfter(queueName: string, after: number): RecentDeadLetter | undefined {
    const recent = this.#recent.get(queueName);
    if (recent === undefined || recent[recent.length - 1]!.seq <= after) return undefined;
    return recent.find((d) => d.seq > after);
  }

  /** The queue was flushed: its dead letters are gone. */
  forget(queueName: string): void {
    this.#recent.delete(queueName);
  }
}
