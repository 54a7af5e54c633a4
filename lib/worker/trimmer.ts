import type { Logger } from "../logging.ts";
import type { PrefetchWindow } from "./prefetch-window.ts";
import type { WorkItem } from "./settler.ts";
import type { WorkQueue } from "./work-queue.ts";

/** How often (ms) a worker holding unstarted messages checks that it will start them soon. */
const TRIM_CHECK_MS = 20;

/** What a Trimmer needs from its worker. */
export interface TrimmerHost {
  readonly running: boolean;
  readonly inFlight: number;
  readonly concurrency: number;
  readonly window: PrefetchWindow;
  readonly work: WorkQueue<WorkItem>;
  giveBack(items: WorkItem[]): void;
  readonly log: Logger;
}

/**
 * Gives back what a worker with an adaptive window will not start soon: when the window shrank
 * (slow messages after quick ones) and the unstarted messages are at least twice what the window
 * leaves room for, the excess goes back to the broker, lowest priority and latest first, where
 * other workers can take it. Checks every TRIM_CHECK_MS while unstarted messages wait.
 */
export class Trimmer {
  readonly #host: TrimmerHost;
  #timer: NodeJS.Timeout | undefined;

  constructor(host: TrimmerHost) {
    this.#host = host;
  }

  /** Unstarted messages wait: check soon (once armed, until none waits). */
  arm(): void {
    if (this.#timer !== undefined) return;
    this.#timer = setTimeout(this.#onTimer, TRIM_CHECK_MS);
    this.#timer.unref();
  }

  stop(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  readonly #onTimer = (): void => {
    this.#timer = undefined;
    if (!this.#host.running) return;
    this.#trim();
    if (this.#host.work.size > 0) this.arm();
  };

  #trim(): void {
    const { window, inFlight, work, concurrency } = this.#host;
    const keep = Math.max(0, window.size(inFlight) - inFlight);
    const excess = work.size - keep;
    if (excess <= 0 || excess < Math.max(keep, concurrency)) return;
    const items: WorkItem[] = [];
    for (let i = 0; i < excess; i++) items.push(work.pop()!);
    this.#host.log.debug({ count: items.length, kept: keep }, "Giving back messages this worker will not start soon");
    this.#host.giveBack(items);
  }
}
