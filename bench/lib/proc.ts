// What the bench reads about other processes, from Linux's /proc: CPU time and memory of a
// worker process without touching its event loop, and Redis's own CPU time from INFO.
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import type { Redis } from "ioredis";

/**
 * CPU time (user + system) the process has used so far, in µs, over all its threads.
 * Summed from each thread's schedstat (nanosecond precision); falls back to /proc/PID/stat
 * (10 ms ticks) where schedstat is missing. Same scope as the process's own process.cpuUsage().
 */
export function cpuMicros(pid: number): number {
  try {
    let ns = 0;
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      try {
        ns += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, "utf8").split(" ")[0]);
      } catch {
        // The thread exited between the listing and the read.
      }
    }
    if (ns > 0) return ns / 1000;
  } catch {
    // fall through to the coarse figure
  }
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  // Fields after the command name (which may hold spaces) start at field 3.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const ticks = Number(fields[11]) + Number(fields[12]); // utime, stime
  return (ticks * 1_000_000) / 100; // USER_HZ is 100 on Linux
}

function statusField(pid: number, field: "VmRSS" | "VmHWM"): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const match = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status);
  if (!match) throw new Error(`/proc/${pid}/status has no ${field}`);
  return Number(match[1]) / 1024;
}

/** Resident set size now, in MB. */
export function rssMb(pid: number): number {
  return statusField(pid, "VmRSS");
}

/** Peak resident set size since the process started or since resetPeakRss, in MB. */
export function peakRssMb(pid: number): number {
  return statusField(pid, "VmHWM");
}

/** Resets the peak RSS (VmHWM) to the current RSS. @returns false where the kernel refuses. */
export function resetPeakRss(pid: number): boolean {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, "5");
    return true;
  } catch {
    return false;
  }
}

/** Redis server CPU (user + system, all threads) so far, in µs. */
export async function redisCpuMicros(redis: Redis): Promise<number> {
  const info = await redis.info("cpu");
  const field = (name: string) => Number(new RegExp(`^${name}:([0-9.]+)`, "m").exec(info)?.[1] ?? Number.NaN);
  return (field("used_cpu_user") + field("used_cpu_sys")) * 1_000_000;
}

/** Monotonic clock shared by every process on the machine (CLOCK_MONOTONIC), in ns. */
export function nowNs(): bigint {
  return process.hrtime.bigint();
}

/** `measure` (e.g. rssMb, cpuMicros) added up over several processes, such as a CLI's workers. */
export function summed(pids: readonly number[], measure: (pid: number) => number): number {
  return pids.reduce((total, pid) => total + measure(pid), 0);
}
