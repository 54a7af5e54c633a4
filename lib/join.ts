import type { JoinOptions } from "./broker-types.ts";
import { DeadLetterMemory } from "./dead-letter-memory.ts";
import { MessageDeadLettered, QueueJoinTimeout } from "./errors.ts";
import { sleep } from "./sleep.ts";

/** A dead letter as a join reports it. */
export interface SeenDeadLetter {
  /** The broker's id for the dead letter: what `DeadLetterMemory` remembers its error under. */
  readonly id: string;
  readonly messageId: string;
  readonly reason: string;
}

/** One look of a join at a queue, across every process that uses it. */
export interface QueueLook<Cursor> {
  /** No message of the queue is ready, delayed or fetched and unsettled, in any process. */
  readonly idle: boolean;
  /** The first dead letter after the cursor the look started from, when it was asked to look. */
  readonly dead?: SeenDeadLetter | undefined;
  /** Past every dead letter the look could see: where the next join starts. */
  readonly cursor: Cursor;
}

export interface JoinLooks<Cursor> {
  look(after: Cursor, deadLetters: boolean): Promise<QueueLook<Cursor>>;
  /**
   * Called before each look; the function it returns waits, after the look, until the queue may
   * have changed since, or `timeout` ms. Without one a join sleeps 5 ms, doubling up to 50 ms.
   */
  watch(): ((timeout: number) => Promise<void>) | undefined;
  /** The error a join rejects with for a dead letter it saw. */
  errorOf(dead: SeenDeadLetter): unknown;
  /** Each look's cursor, as it comes: thrown or not, the join has accounted for what it saw. */
  seen(cursor: Cursor): void;
}

const FIRST_PAUSE = 5;
const LONGEST_PAUSE = 50;
/** Longest a join waits for a change before it looks again anyway (ms). */
const LONGEST_WAIT = 1_000;

/** The loop of `Broker.join`: look, then wait for a change, until idle, a dead letter or the deadline. */
async function joinQueue<Cursor>(queueName: string, options: JoinOptions, after: Cursor, looks: JoinLooks<Cursor>): Promise<void> {
  const failFast = options.failFast ?? true;
  const deadline = options.timeout === undefined ? Infinity : Date.now() + options.timeout;
  let pause = FIRST_PAUSE;
  for (;;) {
    const wait = looks.watch();
    const look = await looks.look(after, failFast);
    looks.seen(look.cursor);
    if (look.dead !== undefined) throw looks.errorOf(look.dead);
    if (look.idle) return;
    const left = deadline - Date.now();
    if (left <= 0) throw new QueueJoinTimeout(queueName, options.timeout!);
    if (wait !== undefined) {
      await wait(Math.min(left, LONGEST_WAIT));
    } else {
      await sleep(Math.min(pause, left));
      pause = Math.min(pause * 2, LONGEST_PAUSE);
    }
  }
}

/** What a broker adapter supplies to `Joins`: the parts of a join that differ between brokers. */
export interface JoinAdapter {
  /** Where the queue's dead letters stand now (a value or a promise): later ones are new to a join. */
  cursor(queueName: string): unknown;
  look(queueName: string, after: unknown, deadLetters: boolean): Promise<QueueLook<unknown>>;
  watch(queueName: string): ((timeout: number) => Promise<void>) | undefined;
}

/** Stands for a cursor the broker could not read when it should have: the join reads one. */
const UNREAD = Symbol("unread cursor");

/**
 * The joins of one broker: where each queue's next join starts looking for dead letters (set when
 * the queue is declared, moved by every join and flush), and the actor errors of the dead letters
 * this process wrote.
 */
export class Joins {
  readonly #adapter: JoinAdapter;
  readonly #cursors = new Map<string, unknown>();
  readonly #errors = new DeadLetterMemory();

  constructor(adapter: JoinAdapter) {
    this.#adapter = adapter;
  }

  /** The queue was declared, or flushed: dead letters from before now never fail a join. */
  reset(queueName: string): void {
    let cursor: unknown;
    try {
      cursor = this.#adapter.cursor(queueName);
    } catch {
      cursor = UNREAD;
    }
    // A promise that rejects leaves the reading to the next join.
    if (cursor instanceof Promise) cursor = cursor.catch(() => UNREAD);
    this.#cursors.set(queueName, cursor);
  }

  remember(queueName: string, id: string, error: unknown): void {
    this.#errors.remember(queueName, id, error);
  }

  async join(queueName: string, options: JoinOptions): Promise<void> {
    let after = await this.#cursors.get(queueName);
    if (after === UNREAD) after = await this.#adapter.cursor(queueName);
    await joinQueue(queueName, options, after, {
      look: (from, deadLetters) => this.#adapter.look(queueName, from, deadLetters),
      watch: () => this.#adapter.watch(queueName),
      errorOf: (dead) => this.#errors.recall(queueName, dead.id) ?? new MessageDeadLettered(queueName, dead.messageId, dead.reason),
      seen: (cursor) => this.#cursors.set(queueName, cursor),
    });
  }
}
