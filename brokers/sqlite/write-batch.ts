/** Most items one transaction writes; the rest wait for the next turn of the event loop. */
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
 * its locks) while a row costs a few, so batches commit several times faster per row. Each `add`
 * resolves once its transaction committed, and rejects if it failed.
 */
export class WriteBatch<T> {
  readonly #write: (items: T[]) => void;
  readonly #schedule: (flush: () => void) => void;
  #pending: Pending<T>[] = [];
  #scheduled = false;

  /** @param write writes every item in one transaction (synchronously) */
  constructor(write: (items: T[]) => void, timing: BatchTiming) {
    this.#write = write;
    this.#schedule = timing === "microtask" ? queueMicrotask : (flush) => setImmediate(flush);
  }

  add(item: T): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.#pending.push({ item, resolve, reject });
      if (!this.#scheduled) {
        this.#scheduled = true;
        this.#schedule(() => this.flush());
      }
    });
  }

  /** Writes everything pending now, in as many transactions as it takes (before closing). */
  drain(): void {
    while (this.#pending.length > 0) this.flush();
  }

  /** Writes what is pending now (at most MAX_BATCH; the rest on the next turn). */
  flush(): void {
    this.#scheduled = false;
    const batch = this.#pending.length > MAX_BATCH ? this.#pending.splice(0, MAX_BATCH) : this.#pending.splice(0);
    if (this.#pending.length > 0) {
      // The rest on the next turn, so one huge burst does not hold the event loop.
      this.#scheduled = true;
      setImmediate(() => this.flush());
    }
    if (batch.length === 0) return;
    try {
      this.#write(batch.map((p) => p.item));
    } catch (error) {
      for (const p of batch) p.reject(error);
      return;
    }
    for (const p of batch) p.resolve();
  }
}
