/** Items of one priority in arrival order: an array read from `head`, compacted as it empties. */
class Lane<T> {
  readonly priority: number;
  items: (T | undefined)[] = [];
  head = 0;

  constructor(priority: number) {
    this.priority = priority;
  }

  get size(): number {
    return this.items.length - this.head;
  }

  shift(): T {
    const item = this.items[this.head]!;
    this.items[this.head++] = undefined;
    if (this.head === this.items.length) {
      this.items.length = 0;
      this.head = 0;
    } else if (this.head >= 1024 && this.head * 2 >= this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return item;
  }
}

/**
 * Deliveries waiting for a slot: lowest priority number first, in arrival order within a
 * priority. One FIFO lane per priority rather than a heap: a queue's messages nearly always
 * share a priority, and then push and pop cost an array access instead of log n swaps.
 */
export class WorkQueue<T> {
  /** Lanes that hold items, by ascending priority (usually just one). */
  readonly #order: Lane<T>[] = [];
  readonly #lanes = new Map<number, Lane<T>>();
  #size = 0;

  get size(): number {
    return this.#size;
  }

  push(priority: number, item: T): void {
    let lane = this.#lanes.get(priority);
    if (lane === undefined) {
      lane = new Lane<T>(priority);
      this.#lanes.set(priority, lane);
      const at = this.#order.findIndex((l) => l.priority > priority);
      this.#order.splice(at === -1 ? this.#order.length : at, 0, lane);
    }
    lane.items.push(item);
    this.#size++;
  }

  /** The next item, or undefined when empty. */
  shift(): T | undefined {
    const lane = this.#order[0];
    if (lane === undefined) return undefined;
    const item = lane.shift();
    this.#size--;
    if (lane.size === 0) {
      // Empty lanes go, so that a run of distinct priorities leaves nothing behind.
      this.#order.shift();
      this.#lanes.delete(lane.priority);
    }
    return item;
  }

  /**
   * Takes the item that would run last (highest priority number, latest arrival), or
   * undefined when empty: what a worker gives back first when it holds more than it will
   * start soon.
   */
  pop(): T | undefined {
    const lane = this.#order[this.#order.length - 1];
    if (lane === undefined) return undefined;
    const item = lane.items.pop()!;
    this.#size--;
    if (lane.size === 0) {
      this.#order.pop();
      this.#lanes.delete(lane.priority);
    }
    return item;
  }

  /** Takes out every item `match` selects, in order; the others keep their places. */
  remove(match: (item: T) => boolean): T[] {
    const out: T[] = [];
    for (const lane of [...this.#order]) {
      const kept: T[] = [];
      for (let i = lane.head; i < lane.items.length; i++) {
        const item = lane.items[i] as T;
        (match(item) ? out : kept).push(item);
      }
      lane.items = kept;
      lane.head = 0;
      if (kept.length === 0) {
        this.#order.splice(this.#order.indexOf(lane), 1);
        this.#lanes.delete(lane.priority);
      }
    }
    this.#size -= out.length;
    return out;
  }

  /** Takes every item out, in order. */
  drain(): T[] {
    const out: T[] = [];
    while (this.#size > 0) out.push(this.shift()!);
    return out;
  }
}
