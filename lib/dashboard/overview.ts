// The Overview page: each queue's counts from the broker, its consumers from the worker
// registry, its pause flag, its last hour from the history, and warning badges only when
// something is wrong.
import type { Broker, QueueDepths } from "../broker.ts";
import { workerStatus, type WorkerRecord } from "../worker-registry.ts";
import type { Overview, QueueSummary, Warning } from "./api-types.ts";
import type { Sparkline } from "./history.ts";

/** Where the overview's parts come from; each one is optional but the broker. */
export interface OverviewSources {
  broker: Broker;
  /** Every worker record (undefined: no registry). */
  workers?: () => Promise<WorkerRecord[]>;
  /** Which of these queues are paused fleet-wide. */
  paused?: (queues: readonly string[]) => Promise<Set<string>>;
  /** The last hour per queue. */
  sparklines?: () => Promise<Map<string, Sparkline>>;
  /** Queues to show besides those declared and those the workers consume. */
  queues?: readonly string[];
}

/** A growth must last this long (ms) before it is a warning. */
const GROWTH_WINDOW = 60_000;
/** Samples older than this are dropped. */
const SAMPLE_KEEP = 10 * 60_000;
/** A queue whose oldest ready message waited this long while consumers ran nothing is stalled. */
const STALLED_AFTER = 120_000;

interface Sample {
  at: number;
  ready: number;
  dead: number;
}

/** Builds overviews, remembering past counts (in this process) to tell growth from a steady backlog. */
export class OverviewBuilder {
  readonly #samples = new Map<string, Sample[]>();

  constructor(private readonly sources: OverviewSources) {}

  /** The queues shown: declared, consumed by a worker on record, or named. */
  async build(now: number = Date.now()): Promise<Overview> {
    const { broker } = this.sources;
    const records = this.sources.workers === undefined ? undefined : await this.sources.workers();
    const live = records?.filter((r) => workerStatus(r, now) === "live" || workerStatus(r, now) === "stopping");
    const names = new Set<string>([...broker.queues, ...(this.sources.queues ?? [])]);
    for (const record of live ?? []) for (const queue of record.queues) names.add(queue);
    for (const queue of names) if (!broker.queues.has(queue)) broker.declareQueue(queue);
    const queues = [...names].sort();

    const [depths, oldest, paused, sparklines] = await Promise.all([
      Promise.all(queues.map((q) => broker.depths(q))),
      Promise.all(queues.map((q) => (broker.oldestReadyAt === undefined ? undefined : broker.oldestReadyAt(q)))),
      this.sources.paused?.(queues) ?? Promise.resolve(new Set<string>()),
      this.sources.sparklines?.() ?? Promise.resolve(new Map<string, Sparkline>()),
    ]);

    const summaries = queues.map((name, i): QueueSummary => {
      const d = depths[i]!;
      const oldestAt = oldest[i];
      const consumers = live === undefined ? null : live.filter((r) => r.queues.includes(name)).length;
      const line = sparklines.get(name);
      const summary: QueueSummary = {
        name,
        ready: d.ready,
        delayed: d.delayed,
        running: d.inFlight,
        dead: d.dead,
        oldestAge: oldestAt === undefined ? null : Math.max(0, now - oldestAt),
        consumers,
        paused: paused.has(name),
        processed: line?.processed ?? [],
        failed: line?.failed ?? [],
        warnings: [],
      };
      summary.warnings = this.#warnings(summary, d, now);
      return summary;
    });
    let workers: Overview["workers"] = null;
    if (records !== undefined) {
      workers = { live: 0, stopping: 0, dead: 0 };
      for (const record of records) {
        const status = workerStatus(record, now);
        if (status !== "stopped") workers[status]++;
      }
    }
    return { now, queues: summaries, workers };
  }

  #warnings(summary: QueueSummary, depths: QueueDepths, now: number): Warning[] {
    const warnings: Warning[] = [];
    const waiting = depths.ready + depths.delayed;
    if (summary.paused) warnings.push({ code: "paused", message: "Paused: workers start none of its messages until it is resumed" });
    if (!summary.paused && summary.consumers === 0 && waiting > 0) {
      warnings.push({ code: "no_consumers", message: `${waiting} messages wait and no live worker consumes this queue` });
    }
    const past = this.#sample(summary.name, { at: now, ready: depths.ready, dead: depths.dead });
    if (past !== undefined) {
      if (depths.ready > past.ready && depths.ready - past.ready >= Math.max(10, past.ready / 10)) {
        warnings.push({ code: "backlog_growing", message: `Ready grew from ${past.ready} to ${depths.ready} in ${Math.round((now - past.at) / 1000)} s` });
      }
      if (depths.dead > past.dead) {
        warnings.push({ code: "dead_letters_growing", message: `${depths.dead - past.dead} new dead letters in ${Math.round((now - past.at) / 1000)} s` });
      }
    }
    const recent = summary.processed.slice(-3).reduce((a, b) => a + b, 0);
    if (!summary.paused && (summary.consumers ?? 0) > 0 && summary.processed.length > 0 && recent === 0 && (summary.oldestAge ?? 0) > STALLED_AFTER) {
      warnings.push({ code: "stalled", message: `Consumers are connected but nothing ran in 3 minutes while the oldest ready message waited ${Math.round(summary.oldestAge! / 1000)} s` });
    }
    return warnings;
  }

  /** Records a sample; returns the newest one at least GROWTH_WINDOW old, if any. */
  #sample(queue: string, sample: Sample): Sample | undefined {
    const samples = this.#samples.get(queue) ?? [];
    while (samples.length > 0 && sample.at - samples[0]!.at > SAMPLE_KEEP) samples.shift();
    let past: Sample | undefined;
    for (const s of samples) if (sample.at - s.at >= GROWTH_WINDOW) past = s;
    samples.push(sample);
    this.#samples.set(queue, samples);
    return past;
  }
}
