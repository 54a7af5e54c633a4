// Reads the fleet's /metrics (a `dramats ... --metrics-port 0` run, see WITH_METRICS) for CLI specs.
import type { CliRun } from "./run-cli.ts";

/** The URL of the fleet's /metrics, once the supervisor serves it. */
export async function metricsUrl(run: CliRun): Promise<string> {
  return (await run.waitFor("Serving the worker processes' metrics")).url as string;
}

/** The sum of a metric's samples whose labels include `labels` (Prometheus text format). */
export function metric(text: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const match of text.matchAll(/^([a-z_]+)(?:\{([^}]*)\})? (\S+)$/gm)) {
    if (match[1] !== name) continue;
    const found = Object.fromEntries([...(match[2] ?? "").matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
    if (Object.entries(labels).every(([k, v]) => found[k] === v)) sum += Number(match[3]);
  }
  return sum;
}

export async function scrape(url: string): Promise<string> {
  return (await fetch(url)).text();
}

/**
 * Scrapes until `done` holds (or 10 s pass), returning the last text for the spec to assert on.
 * What the fixture app recorded can be ahead of a scrape: a process that logged "Worker started"
 * already runs messages but has not yet told the supervisor it is ready, and until then a scrape
 * does not ask it. Counters only grow, so waiting for the expected value hides no double count.
 */
export async function scrapeUntil(url: string, done: (text: string) => boolean): Promise<string> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const text = await scrape(url);
    if (done(text) || Date.now() > deadline) return text;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
