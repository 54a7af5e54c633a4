// A schedule in words, for people (the dashboard's Schedules page): cron expressions through
// cronstrue, fixed periods in the largest whole unit.
import cronstrue from "cronstrue";

const UNITS: [number, string][] = [
  [86_400_000, "day"],
  [3_600_000, "hour"],
  [60_000, "minute"],
  [1_000, "second"],
];

/** `Every 5 minutes`, `At 03:00`, `Every 1500 ms`; the cron string itself when cronstrue cannot read it. */
export function scheduleInWords(spec: { cron: string; timezone?: string | undefined } | { every: number }): string {
  if ("every" in spec) {
    for (const [size, unit] of UNITS) {
      if (spec.every % size === 0) {
        const n = spec.every / size;
        return n === 1 ? `Every ${unit}` : `Every ${n} ${unit}s`;
      }
    }
    return `Every ${spec.every} ms`;
  }
  let words: string;
  try {
    words = cronstrue.toString(spec.cron, { use24HourTimeFormat: true, throwExceptionOnParseError: true });
  } catch {
    words = spec.cron;
  }
  return spec.timezone ? `${words} (${spec.timezone})` : words;
}
