// Summaries of repeated measurements: every figure the bench reports is a median with its range.

/** One figure measured over several rounds. */
export interface Summary {
  median: number;
  min: number;
  max: number;
  /** Every round's value, in the order measured. */
  samples: number[];
}

export function median(xs: readonly number[]): number {
  if (xs.length === 0) return Number.NaN;
  const sorted = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export function summarize(samples: readonly number[]): Summary {
  return {
    median: median(samples),
    min: samples.length ? Math.min(...samples) : Number.NaN,
    max: samples.length ? Math.max(...samples) : Number.NaN,
    samples: [...samples],
  };
}

/** The p-th percentile (0..100) by nearest rank. */
export function percentile(xs: readonly number[], p: number): number {
  if (xs.length === 0) return Number.NaN;
  const sorted = [...xs].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank]!;
}

/** Collects named samples round by round and summarizes them at the end. */
export class Samples {
  readonly #values = new Map<string, number[]>();

  add(name: string, value: number): void {
    if (!Number.isFinite(value)) return;
    let list = this.#values.get(name);
    if (list === undefined) this.#values.set(name, (list = []));
    list.push(value);
  }

  get(name: string): Summary | undefined {
    const list = this.#values.get(name);
    return list === undefined ? undefined : summarize(list);
  }

  toJSON(): Record<string, Summary> {
    const out: Record<string, Summary> = {};
    for (const [name, list] of this.#values) out[name] = summarize(list);
    return out;
  }
}
