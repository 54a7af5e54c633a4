// One row of the bench's summary (bench/lib/summary.ts) and the helpers that fill rows in.
import type { Summary } from "./stats.ts";

/** A script's results by subject, then metric. */
export type Subjects = Record<string, Record<string, Summary> | undefined>;

export interface Row {
  measure: string;
  dramats: number | undefined;
  baselineName?: string;
  baseline?: number | undefined;
  unit: string;
  /** Describes the target, e.g. ">= 2x". */
  target: string;
  holds: boolean | undefined;
}

export function med(subjects: Subjects | undefined, subject: string, metric: string): number | undefined {
  return subjects?.[subject]?.[metric]?.median;
}

export function atLeast(a: number | undefined, b: number | undefined, factor: number): boolean | undefined {
  return a === undefined || b === undefined ? undefined : a >= factor * b;
}

export function below(a: number | undefined, limit: number): boolean | undefined {
  return a === undefined ? undefined : a < limit;
}
