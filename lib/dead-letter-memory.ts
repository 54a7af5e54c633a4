/** Dead letters whose actor error a broker remembers, across its queues: the newest are kept. */
const REMEMBERED_DEAD_LETTERS = 1_000;

/**
 * The actor errors of the dead letters this process wrote lately, by queue and by the id the
 * broker gives the dead letter, so that `join({ failFast })` can reject with the actor's own
 * error rather than only with the reason the broker stores. Bounded: an old dead letter's error
 * is forgotten, and its join gets a MessageDeadLettered instead.
 */
export class DeadLetterMemory {
  readonly #errors = new Map<string, unknown>();

  remember(queueName: string, id: string, error: unknown): void {
    if (error === undefined) return;
    this.#errors.set(key(queueName, id), error);
    if (this.#errors.size > REMEMBERED_DEAD_LETTERS) this.#errors.delete(this.#errors.keys().next().value!);
  }

  /** The actor's error for dead letter `id` of the queue, if this process wrote it lately. */
  recall(queueName: string, id: string): unknown {
    return this.#errors.get(key(queueName, id));
  }
}

// Queue names cannot hold a newline (see queue-names.ts).
const key = (queueName: string, id: string) => `${queueName}\n${id}`;
