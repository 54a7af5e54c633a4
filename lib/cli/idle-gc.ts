import type { Worker } from "../worker.ts";
import { collectGarbage } from "./collect-garbage.ts";

/**
 * Gives memory back when a worker process goes idle: one full garbage collection once the worker
 * has processed messages and then none for QUIET_CHECKS checks in a row. A drain of short-lived
 * messages promotes garbage to the old generation without ever running the full GC that would
 * arm V8's memory reducer, so the process would otherwise keep its drain-time heap while it
 * waits. Checks are counted, not timed: a process that was suspended (SIGSTOP, a paused VM) is
 * not idle just because the clock moved. Costs one check per interval while busy and one GC (a
 * few ms) per busy spell.
 */
/** Consecutive checks without a processed message before collecting. */
const QUIET_CHECKS = 3;

export class IdleCollector {
  readonly #worker: Pick<Worker, "processed" | "inFlight">;
  readonly #collect: () => void;
  #seen: number;
  #collected = false;
  #quiet = 0;

  constructor(worker: Pick<Worker, "processed" | "inFlight">, collect: () => void = collectGarbage) {
    this.#worker = worker;
    this.#collect = collect;
    this.#seen = worker.processed;
  }

  /** Called once per interval: collects once the worker has been quiet for QUIET_CHECKS calls after a busy spell. */
  check(): void {
    const processed = this.#worker.processed;
    if (processed !== this.#seen || this.#worker.inFlight > 0) {
      this.#seen = processed;
      this.#collected = false;
      this.#quiet = 0;
    } else if (!this.#collected && ++this.#quiet >= QUIET_CHECKS) {
      this.#collected = true;
      this.#collect();
    }
  }

  /** Checks every `intervalMs` (an unref'd timer, so it keeps no process alive). */
  start(intervalMs = 1_000): NodeJS.Timeout {
    const timer = setInterval(() => this.check(), intervalMs);
    timer.unref();
    return timer;
  }
}
