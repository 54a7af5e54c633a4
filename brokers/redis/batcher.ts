interface Pending<T> {
  item: T;
  resolve: () => void;
  reject: (error: unknown) => void;
}

/**
 * Collects the items added during one turn of the event loop (including the promise
 * continuations it triggers) and runs them as one call, so a burst of acks or sends costs
 * one script run instead of one per message.
 */
export class Batcher<T> {
  readonly #run: (items: T[]) => Promise<void>;
  readonly #maxBatch: number;
  #pending: Pending<T>[] = [];
  #scheduled = false;
  readonly #running = new Set<Promise<void>>();

  constructor(run: (items: T[]) => Promise<void>, maxBatch = 1000) {
    this.#run = run;
    this.#maxBatch = maxBatch;
  }

  /** Resolves once the batch holding `item` has run; rejects with that batch's error. */
  add(item: T): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#pending.push({ item, resolve, reject });
      if (!this.#scheduled) {
        this.#scheduled = true;
        // nextTick runs after the current microtask queue drains: it sees every item added
        // by promise chains started in this turn.
        process.nextTick(() => this.#flush());
      }
    });
  }

  /** Resolves when nothing is pending or running (failures are the callers' business). */
  async drain(): Promise<void> {
    while (this.#scheduled || this.#running.size > 0) {
      if (this.#scheduled) await new Promise<void>((r) => process.nextTick(r));
      else await Promise.allSettled([...this.#running]);
    }
  }

  #flush(): void {
    this.#scheduled = false;
    const all = this.#pending;
    this.#pending = [];
    for (let i = 0; i < all.length; i += this.#maxBatch) {
      const part = all.slice(i, i + this.#maxBatch);
      const running = this.#run(part.map((p) => p.item)).then(
        () => {
          for (const p of part) p.resolve();
        },
        (error: unknown) => {
          for (const p of part) p.reject(error);
        },
      );
      this.#running.add(running);
      void running.finally(() => this.#running.delete(running));
    }
  }
}
