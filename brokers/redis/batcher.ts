/** One script call's worth of items, and the promise every one of their callers shares. */
interface Batch<T> {
  items: T[];
  promise: Promise<void>;
  resolve: () => void;
  reject: (error: unknown) => void;
}

/**
 * Collects the items added during one turn of the event loop (including the promise
 * continuations it triggers) and runs them as one call, so a burst of acks or sends costs
 * one script run instead of one per message. Every item of a batch shares the batch's promise:
 * adding an item allocates nothing per item.
 */
export class Batcher<T> {
  readonly #run: (items: T[]) => Promise<void>;
  readonly #maxBatch: number;
  /** Batches filling up this turn; all but the last are full. */
  #open: Batch<T>[] = [];
  #scheduled = false;
  readonly #running = new Set<Promise<void>>();

  constructor(run: (items: T[]) => Promise<void>, maxBatch = 1000) {
    this.#run = run;
    this.#maxBatch = maxBatch;
  }

  /** Resolves once the batch holding `item` has run; rejects with that batch's error. */
  add(item: T): Promise<void> {
    let batch = this.#open[this.#open.length - 1];
    if (batch === undefined || batch.items.length >= this.#maxBatch) {
      let resolve!: () => void;
      let reject!: (error: unknown) => void;
      const promise = new Promise<void>((res, rej) => {
        resolve = res;
        reject = rej;
      });
      batch = { items: [], promise, resolve, reject };
      this.#open.push(batch);
    }
    batch.items.push(item);
    if (!this.#scheduled) {
      this.#scheduled = true;
      // nextTick runs after the current microtask queue drains: it sees every item added
      // by promise chains started in this turn.
      process.nextTick(() => this.#flush());
    }
    return batch.promise;
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
    const batches = this.#open;
    this.#open = [];
    for (const batch of batches) {
      const running = this.#run(batch.items).then(batch.resolve, batch.reject);
      this.#running.add(running);
      void running.finally(() => this.#running.delete(running));
    }
  }
}
