// Event-loop delay of a worker process, as the hostile scenario reads it: every `every` ms the
// process appends `<epoch ms> <worst delay ms since the last line>` to `<dir>/lag-<pid>.log`.
// A blocked loop writes its line late, with the block in it.
import { closeSync, openSync, readdirSync, readFileSync, writeSync } from "node:fs";
import { join } from "node:path";
import { monitorEventLoopDelay } from "node:perf_hooks";

export function recordLag(dir: string, every: number): void {
  const fd = openSync(join(dir, `lag-${process.pid}.log`), "a");
  const histogram = monitorEventLoopDelay({ resolution: 10 });
  histogram.enable();
  const timer = setInterval(() => {
    writeSync(fd, `${Date.now()} ${(histogram.max / 1e6).toFixed(1)}\n`);
    histogram.reset();
  }, every);
  timer.unref();
  process.once("exit", () => closeSync(fd));
}

/**
 * The worst stall of any process during [from, to] (epoch ms), -1 when none reported: the worst
 * delay a line reports, or the silence between two lines beyond the period, or after a
 * process's last line when it went silent for good (killed while blocked).
 */
export function worstLag(dir: string, from: number, to: number, every: number): number {
  let worst = -1;
  for (const name of readdirSync(dir).filter((n) => /^lag-\d+\.log$/.test(n))) {
    let previous: number | undefined;
    for (const line of readFileSync(join(dir, name), "utf8").split("\n")) {
      const [at, lag] = line.split(" ").map(Number);
      if (at === undefined || lag === undefined || !Number.isFinite(at) || !Number.isFinite(lag)) continue;
      // A line covers the period before it, and any block that held it back.
      if (at >= from && at - every - lag <= to) worst = Math.max(worst, lag, previous === undefined ? 0 : at - previous - every);
      previous = at;
    }
    if (previous !== undefined && previous >= from - every && previous < to - 2 * every) worst = Math.max(worst, to - previous - every);
  }
  return worst;
}
