// What the ledger says about one scenario: runs per id, and the timeline the recovery figures
// are read from.
import type { LedgerEvent } from "./ledger.ts";

export class Tally {
  /** Finished runs per id. */
  readonly finished = new Map<string, number>();
  /** When each id first finished. */
  readonly firstFinish = new Map<string, number>();
  readonly starts: LedgerEvent[] = [];
  readonly ends: LedgerEvent[] = [];

  add(events: readonly LedgerEvent[]): void {
    for (const event of events) {
      if (event.kind === "S") {
        this.starts.push(event);
        continue;
      }
      this.ends.push(event);
      this.finished.set(event.id, (this.finished.get(event.id) ?? 0) + 1);
      if (!this.firstFinish.has(event.id)) this.firstFinish.set(event.id, event.at);
    }
  }

  /** Expected ids that never finished. */
  lost(expected: Iterable<string>): string[] {
    return [...expected].filter((id) => !this.finished.has(id));
  }

  /** Finished runs beyond the first, over the expected ids. */
  duplicated(expected: Iterable<string>): number {
    let extra = 0;
    for (const id of expected) extra += Math.max(0, (this.finished.get(id) ?? 0) - 1);
    return extra;
  }

  /** How many of `expected` have finished at least once. */
  processed(expected: Iterable<string>): number {
    let n = 0;
    for (const id of expected) if (this.finished.has(id)) n++;
    return n;
  }

  /**
   * After `pid` was killed at `at`: ms until one of the messages it had started and not finished
   * first started in another process. Undefined when it held none; Infinity when none came back.
   */
  rerunAfterKill(pid: number, at: number): number | undefined {
    // Not only those started by `at`: the process runs on for the moment the signal takes to land.
    const orphans = this.unfinished(pid);
    if (orphans.size === 0) return undefined;
    let first = Infinity;
    for (const e of this.starts) if (e.pid !== pid && e.at >= at && orphans.has(e.id)) first = Math.min(first, e.at);
    return first - at;
  }

  /** Ids `pid` started and never finished itself: the runs it abandoned. */
  unfinished(pid: number): Set<string> {
    const finishedByPid = new Set(this.ends.filter((e) => e.pid === pid).map((e) => e.id));
    return new Set(this.starts.filter((e) => e.pid === pid && !finishedByPid.has(e.id)).map((e) => e.id));
  }

  /** ms from `at` until a process not in `old` started a message. */
  firstRunByNewProcess(old: ReadonlySet<number>, at: number): number {
    let first = Infinity;
    for (const e of this.starts) if (e.at >= at && !old.has(e.pid)) first = Math.min(first, e.at);
    return first - at;
  }

  /**
   * Throughput resuming after a fault at `at`: ms until the starts in the last WINDOW ms reach
   * half their rate over the PRE ms before the fault, or, when the queue ran out first, until
   * the last start after it. Undefined when nothing ran before it or nothing was left after it.
   */
  throughputResumed(at: number): number | undefined {
    const WINDOW = 250;
    const PRE = 2_000;
    const times = this.starts.map((e) => e.at).sort((a, b) => a - b);
    const before = times.filter((t) => t >= at - PRE && t < at).length;
    const needed = (before / PRE) * WINDOW * 0.5;
    if (before === 0) return undefined;
    const after = times.filter((t) => t >= at);
    for (let i = 0, j = 0; j < after.length; j++) {
      while (after[j]! - after[i]! >= WINDOW) i++;
      if (j - i + 1 >= needed) return after[j]! - at;
    }
    return after.length === 0 ? undefined : after[after.length - 1]! - at;
  }
}
