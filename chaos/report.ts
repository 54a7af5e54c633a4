// One table row per broker and scenario, printed as Markdown.
import { BOUND_FORMULA } from "./bounds.ts";
import type { Context, Drain } from "./context.ts";

export interface Row {
  broker: string;
  scenario: string;
  /** Messages the scenario expects to run (sends that resolved). */
  sent: number;
  /** Distinct expected ids that ran to the end. */
  processed: number;
  lost: number;
  /** Runs beyond the first. */
  duplicated: number;
  bound: number;
  faults: number;
  /** From the first run to the last expected id's first finish (ms). */
  drainMs: number | undefined;
  /** The worst recovery over the faults (ms; see RECOVERY). */
  recoveryMs: number | undefined;
  notes: string[];
  /** Why the row fails; empty when it passes. */
  failures: string[];
  /** Markdown printed under the broker's table (a scenario's own table). */
  details?: string[];
}

/** How the recovery column is measured, printed under the tables. */
export const RECOVERY =
  "the worst over the scenario's faults of, for a killed worker process, the time from the kill to the first start " +
  "elsewhere of a message it had started and not finished; for a killed or stopped supervisor, from the signal to the first start " +
  "by a process of the restarted command, or later, to the first start again of a message its workers had started and not finished; " +
  "for a connection kill, from the kill until starts per 250 ms are back to half their rate in the 2 s before it (or, when the queue " +
  "ran out first, to its last start); for a producer cut, from the cut to the next send that resolved. ∞: never within the deadline.";

export interface Outcome {
  expected: readonly string[];
  faults: number;
  bound: number;
  drain: Drain;
  recoveries: (number | undefined)[];
  notes?: string[];
  failures?: string[];
  sent?: number;
}

/** Builds a row from what the ledger says, adding the failures every scenario shares. */
export function row(ctx: Context, scenario: string, outcome: Outcome): Row {
  ctx.poll();
  const lost = ctx.tally.lost(outcome.expected);
  const duplicated = ctx.tally.duplicated(outcome.expected);
  const failures = [...(outcome.failures ?? [])];
  if (lost.length > 0) failures.push(`${lost.length} lost (e.g. ${lost.slice(0, 3).join(", ")})`);
  if (duplicated > outcome.bound) failures.push(`${duplicated} duplicates exceed the bound ${outcome.bound}`);
  if (outcome.drain.timedOut()) failures.push(`not drained within ${ctx.profile.deadline / 1000} s`);
  const measured = outcome.recoveries.filter((r): r is number => r !== undefined);
  return {
    broker: ctx.target.name,
    scenario,
    sent: outcome.sent ?? outcome.expected.length,
    processed: ctx.tally.processed(outcome.expected),
    lost: lost.length,
    duplicated,
    bound: outcome.bound,
    faults: outcome.faults,
    drainMs: outcome.drain.drainMs(),
    recoveryMs: measured.length > 0 ? Math.max(...measured) : undefined,
    notes: outcome.notes ?? [],
    failures,
  };
}

const ms = (value: number | undefined): string => (value === undefined ? "–" : Number.isFinite(value) ? `${Math.round(value)}` : "∞");
const seconds = (value: number | undefined): string => (value === undefined ? "–" : (value / 1000).toFixed(1));

/** The Markdown tables, one per broker, with the bound formula and the recovery definition. */
export function renderTables(rows: readonly Row[]): string {
  const out: string[] = [];
  for (const broker of [...new Set(rows.map((r) => r.broker))]) {
    out.push(`### ${broker}`, "");
    out.push("| scenario | sent | processed | lost | duplicated | bound | faults | drain s | recovery ms | result | notes |");
    out.push("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- |");
    for (const r of rows.filter((x) => x.broker === broker)) {
      const result = r.failures.length === 0 ? "ok" : `**FAIL**: ${r.failures.join("; ")}`;
      out.push(
        `| ${r.scenario} | ${r.sent} | ${r.processed} | ${r.lost} | ${r.duplicated} | ${r.bound} | ${r.faults} | ${seconds(r.drainMs)} | ${ms(r.recoveryMs)} | ${result} | ${r.notes.join("; ")} |`,
      );
    }
    out.push("");
    for (const r of rows.filter((x) => x.broker === broker && x.details !== undefined)) out.push(...r.details!, "");
  }
  out.push(`Bound: ${BOUND_FORMULA}`, "", `Recovery: ${RECOVERY}`, "");
  return out.join("\n");
}
