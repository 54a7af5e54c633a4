// How operator commands print: aligned tables for people, JSON for programs. Everything goes
// through `redact`, so a broker password never reaches the terminal or a pipe.
import { redact, redactJson } from "../../redact.ts";

export interface Output {
  /** One line (or block) to stdout. */
  line(text?: string): void;
  /** A value as JSON to stdout, two-space indented. */
  json(value: unknown): void;
  /** A note for people to stderr (kept out of JSON on stdout). */
  note(text: string): void;
  /** Columns the terminal has, or undefined when stdout is not a terminal. */
  readonly columns: number | undefined;
}

export function processOutput(): Output {
  return {
    line: (text = "") => process.stdout.write(`${redact(text)}\n`),
    json: (value) => process.stdout.write(`${redactJson(JSON.stringify(value, null, 2))}\n`),
    note: (text) => process.stderr.write(`${redact(text)}\n`),
    columns: process.stdout.isTTY ? process.stdout.columns : undefined,
  };
}

export interface Column {
  header: string;
  /** Numbers read best right-aligned. @defaultValue "left" */
  align?: "left" | "right";
}

/**
 * Lays rows out in columns two spaces apart, each as wide as its widest cell. When `columns`
 * is given (a terminal), the last column is cut to fit it, with `…`.
 */
export function table(spec: readonly Column[], rows: readonly (readonly string[])[], columns?: number): string {
  const widths = spec.map((column, i) => Math.max(column.header.length, ...rows.map((row) => (row[i] ?? "").length)));
  const format = (cells: readonly string[]) => {
    const parts = spec.map((column, i) => {
      const cell = cells[i] ?? "";
      if (i === spec.length - 1 && column.align !== "right") return cell;
      return column.align === "right" ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!);
    });
    const line = parts.join("  ");
    return columns !== undefined && line.length > columns ? `${line.slice(0, Math.max(0, columns - 1))}…` : line;
  };
  return [format(spec.map((c) => c.header)), ...rows.map(format)].join("\n");
}

/** `2025-06-01 03:00:00Z`: UTC, to the second, the same on every machine. */
export function formatTime(ms: number): string {
  return `${new Date(ms).toISOString().slice(0, 19).replace("T", " ")}Z`;
}

/** `in 4m 10s`, `2h 5m ago`: the distance from `now`, to two units. */
export function relative(ms: number, now: number = Date.now()): string {
  const delta = ms - now;
  let left = Math.round(Math.abs(delta) / 1000);
  const units: [string, number][] = [["d", 86_400], ["h", 3_600], ["m", 60], ["s", 1]];
  const parts: string[] = [];
  for (const [name, size] of units) {
    if (left >= size || (name === "s" && parts.length === 0)) {
      parts.push(`${Math.floor(left / size)}${name}`);
      left %= size;
    }
    if (parts.length === 2) break;
  }
  const text = parts.join(" ");
  return delta >= 0 ? `in ${text}` : `${text} ago`;
}

/** The first line of `text`, for a table cell (reasons may carry stacks). */
export function firstLine(text: string): string {
  const end = text.indexOf("\n");
  return end < 0 ? text : `${text.slice(0, end)} …`;
}

/** `1 dead letter`, `3 dead letters`. */
export function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? "" : "s"}`;
}
