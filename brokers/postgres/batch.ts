/** Most items one statement writes; the rest go in the next. */
const MAX_BATCH = 1_000;

interface Pending<T> {
  readonly item: T;
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
}

/**
 * Groups small writes into one statement: items added in the same microtask run (`microtask`,
 * for a burst of sends) or the same turn of the event loop (`immediate`, for acks finishing in
 * separate chains) share a round trip. Each `add` resolves once its statement committed and
 * rejects with its error. `flushAt` items pending are written at once.
 */
export class Batch<T> {
  readonly #write: (items: T[]) => Promise<void>;
  readonly #timing: "microtask" | "immediate";
  readonly #flushAt: number;
  #pending: Pending<T>[] = [];
  #scheduled = false;
  readonly #writing = new Set<Promise<void>>();

  constructor(write: (items: T[]) => Promise<void>, timing: "microtask" | "immediate", flushAt = MAX_BATCH) {
    this.#write = write;
    this.#timing = timing;
    this.#flushAt = Math.min(flushAt, MAX_BATCH);
  }

  add(item: T): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#pending.push({ item, resolve, reject });
      if (this.#pending.length >= this.#flushAt) this.#flush();
      else if (!this.#scheduled) {
        this.#scheduled = true;
        if (this.#timing === "microtask") queueMicrotask(() => this.#flush());
        else setImmediate(() => this.#flush());
      }
    });
  }

  #flush(): void {
    this.#scheduled = false;
    if (this.#pending.length === 0) return;
    const batch = this.#pending;
    this.#pending = [];
    const writing = this.#write(batch.map((p) => p.item)).then(
      () => batch.forEach((p) => p.resolve()),
      (error: unknown) => batch.forEach((p) => p.reject(error)),
    );
    this.#writing.add(writing);
    void writing.finally(() => this.#writing.delete(writing));
  }

  /** Writes what is pending and waits for every write under way. */
  async drain(): Promise<void> {
    this.#flush();
    await Promise.all([...this.#writing]);
  }
}
