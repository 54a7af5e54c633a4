// Plain-text tables and number formats for the bench's output.
import type { Summary } from "./stats.ts";

/** Prints rows as left-aligned first column and right-aligned others. */
export function printTable(header: string[], rows: string[][]): void {
  const all = [header, ...rows];
  const widths = header.map((_, i) => Math.max(...all.map((r) => (r[i] ?? "").length)));
  const line = (r: string[]) => r.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join("  ");
  console.log(line(header));
  console.log(widths.map((w) => "-".repeat(w)).join("  "));
  for (const r of rows) console.log(line(r));
}

/** 12,345 */
export function int(x: number | undefined): string {
  return x === undefined || !Number.isFinite(x) ? "-" : Math.round(x).toLocaleString("en-US");
}

export function fixed(x: number | undefined, digits = 1): string {
  return x === undefined || !Number.isFinite(x) ? "-" : x.toFixed(digits);
}

/** `median (min-max)` */
export function range(s: Summary | undefined, format: (x: number) => string = int): string {
  if (s === undefined) return "-";
  return s.samples.length > 1 ? `${format(s.median)} (${format(s.min)}-${format(s.max)})` : format(s.median);
}

export function ratio(a: number | undefined, b: number | undefined): string {
  return a === undefined || b === undefined || !(b > 0) || !Number.isFinite(a) ? "-" : `${(a / b).toFixed(2)}x`;
}
