/** One script call's worth of items, and the promise every one of their callers shares. */
interface Batch<T> {
  items: T[];
  promise: Promise<void>;
  resolve: () => void;
  reject: (error: unknown) => void;
}

export interface BatcherOptions {
  /** Most items per call. @defaultValue 1000 */
  maxBatch?: number;
  /**
   * When the collected items run: at the end of the current turn (`tick`, process.nextTick),
   * or after this loop iteration's I/O callbacks (`immediate`, setImmediate), which leaves
   * room for another call of the same turn to take them along (`takePending`).
   * @defaultValue "tick"
   */
  defer?: "tick" | "immediate";
  /**
   * Run a batch as soon as it holds `maxBatch` items, instead of at the deferred flush: for acks,
   * whose wait is what a crash makes run twice (see lib/ack-flush.ts). @defaultValue false
   */
  flushWhenFull?: boolean;
}

/** Items taken out of a batcher to ride on another call; `settle` passes that call's outcome on. */
export interface PendingItems<T> {
  readonly items: T[];
  settle(call: Promise<unknown>): void;
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
  readonly #defer: (callback: () => void) => void;
  readonly #flushWhenFull: boolean;
  /** Batches filling up this turn; all but the last are full. */
  #open: Batch<T>[] = [];
  #scheduled = false;
  readonly #running = new Set<Promise<void>>();

  constructor(run: (items: T[]) => Promise<void>, options: BatcherOptions = {}) {
    this.#run = run;
    this.#maxBatch = options.maxBatch ?? 1000;
    this.#defer = options.defer === "immediate" ? (callback) => setImmediate(callback) : (callback) => process.nextTick(callback);
    this.#flushWhenFull = options.flushWhenFull ?? false;
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
    if (this.#flushWhenFull && batch.items.length >= this.#maxBatch) {
      // Only the last open batch can fill up: the others were full when it was opened.
      this.#open.pop();
      this.#start(batch);
      return batch.promise;
    }
    if (!this.#scheduled) {
      this.#scheduled = true;
      // Either runs after the current microtask queue drains: it sees every item added by
      // promise chains started in this turn.
      this.#defer(() => this.#flush());
    }
    return batch.promise;
  }

  /**
   * Takes every pending item out, for the caller to send along with a call of its own; the
   * items' promises settle with that call. Undefined when nothing is pending.
   */
  takePending(): PendingItems<T> | undefined {
    const batches = this.#open;
    if (batches.length === 0) return undefined;
    this.#open = [];
    return {
      items: batches.length === 1 ? batches[0]!.items : batches.flatMap((b) => b.items),
      settle: (call) => {
        const running = call.then(
          () => {
            for (const b of batches) b.resolve();
          },
          (error: unknown) => {
            for (const b of batches) b.reject(error);
          },
        );
        this.#running.add(running);
        void running.finally(() => this.#running.delete(running));
      },
    };
  }

  /** Resolves when nothing is pending or running (failures are the callers' business). */
  async drain(): Promise<void> {
    while (this.#scheduled || this.#running.size > 0) {
      if (this.#scheduled) await new Promise<void>((r) => this.#defer(r));
      else await Promise.allSettled([...this.#running]);
    }
  }

  #flush(): void {
    this.#scheduled = false;
    const batches = this.#open;
    this.#open = [];
    for (const batch of batches) this.#start(batch);
  }

  #start(batch: Batch<T>): void {
    const running = this.#run(batch.items).then(batch.resolve, batch.reject);
    this.#running.add(running);
    void running.finally(() => this.#running.delete(running));
  }
}
