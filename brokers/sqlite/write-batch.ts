/** Most items one transaction writes; the rest go in the next one. */
const MAX_BATCH = 500;

interface Pending<T> {
  readonly item: T;
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
}

/**
 * When a batch is written:
 * - `microtask`: once the current job's microtasks ran. A burst of sends (`Promise.all`) lands in
 *   one transaction, and a lone `await send()` pays no turn of the event loop.
 * - `immediate`: on the next turn of the event loop. Catches work finishing in separate async
 *   chains, such as fifty actors acking in the same turn.
 */
export type BatchTiming = "microtask" | "immediate";

/**
 * Groups writes into one transaction. A commit costs tens of microseconds (the WAL append and
 * its locks) while a row costs a few, so batches commit several times faster per row. Batches
 * are written one at a time, in order (items that arrive while one waits for the write lock
 * join the next). Each `add` resolves once its transaction committed, and rejects if it failed.
 */
export class WriteBatch<T> {
  readonly #write: (items: T[]) => Promise<void>;
  readonly #schedule: (flush: () => void) => void;
  #pending: Pending<T>[] = [];
  #scheduled = false;
  #writing: Promise<void> | undefined;
  readonly #flushAt: number;
  /** Writes started by `flushAt` beside the ordered one. */
  readonly #eager = new Set<Promise<void>>();

  /**
   * @param write writes every item in one transaction, retrying while the database is locked
   * @param flushAt for writes whose order does not matter (acks): once this many items are
   *   pending they are written at once, even while another batch is being written
   */
  constructor(write: (items: T[]) => Promise<void>, timing: BatchTiming, flushAt = Infinity) {
    this.#write = write;
    this.#schedule = timing === "microtask" ? queueMicrotask : (flush) => setImmediate(flush);
    this.#flushAt = flushAt;
  }

  add(item: T): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.#pending.push({ item, resolve, reject });
      if (this.#pending.length >= this.#flushAt) {
        this.#writeNow();
      } else if (!this.#scheduled && this.#writing === undefined) {
        this.#scheduled = true;
        this.#schedule(() => void this.#flush());
      }
    });
  }

  /** Resolves once everything added so far is written (or failed). */
  async drain(): Promise<void> {
    while (this.#writing !== undefined || this.#pending.length > 0 || this.#eager.size > 0) {
      if (this.#eager.size > 0) await Promise.all([...this.#eager]);
      else if (this.#writing !== undefined) await this.#writing;
      else await this.#flush();
    }
  }

  /** Writes what is pending now (better-sqlite3 commits synchronously unless the file is locked). */
  #writeNow(): void {
    const batch = this.#pending.splice(0);
    const written = this.#write(batch.map((p) => p.item)).then(
      () => {
        for (const p of batch) p.resolve();
      },
      (error: unknown) => {
        for (const p of batch) p.reject(error ?? new Error("write failed"));
      },
    );
    this.#eager.add(written);
    void written.finally(() => this.#eager.delete(written));
  }

  #flush(): Promise<void> {
    this.#scheduled = false;
    if (this.#writing !== undefined || this.#pending.length === 0) return this.#writing ?? Promise.resolve();
    const batch = this.#pending.splice(0, MAX_BATCH);
    const settle = (error?: unknown) => {
      // Cleared before the senders resume, so the next `add` schedules its own batch at once.
      this.#writing = undefined;
      for (const p of batch) error === undefined ? p.resolve() : p.reject(error);
      if (this.#pending.length > 0 && !this.#scheduled) {
        this.#scheduled = true;
        // After a full batch, yield a turn of the event loop: one huge burst must not hold it.
        if (batch.length === MAX_BATCH) setImmediate(() => void this.#flush());
        else this.#schedule(() => void this.#flush());
      }
    };
    this.#writing = this.#write(batch.map((p) => p.item)).then(() => settle(), (error: unknown) => settle(error ?? new Error("write failed")));
    return this.#writing;
  }
}
