/** Stop signals closer together than this count as one (ms). */
export const STOP_SIGNAL_WINDOW_MS = 300;

/**
 * Counts the stop signals one process receives itself: the first asks for a graceful stop, a
 * later one (a second deliberate request) forces it. Only signals count: after a stop requested
 * any other way (the supervisor's IPC command, its departure) the next signal is still the first,
 * because a process manager that signals the main process and then its group or cgroup, or
 * `pkill`, means one stop. Repeats within {@link STOP_SIGNAL_WINDOW_MS} are one request
 * (timeout(1) and some process managers deliver a stop twice in a row).
 */
export class StopSignals {
  readonly #stop: (signal: NodeJS.Signals) => void;
  readonly #force: (signal: NodeJS.Signals) => void;
  #received = 0;
  #last = -Infinity;
  readonly #handlers: [NodeJS.Signals, () => void][] = [];

  constructor(handlers: { stop: (signal: NodeJS.Signals) => void; force: (signal: NodeJS.Signals) => void }) {
    this.#stop = handlers.stop;
    this.#force = handlers.force;
  }

  /** Handles `signals` on this process until {@link close}. */
  listen(...signals: NodeJS.Signals[]): this {
    for (const signal of signals) {
      const handler = () => this.receive(signal);
      process.on(signal, handler);
      this.#handlers.push([signal, handler]);
    }
    return this;
  }

  /** One stop signal arrived: stop on the first, force on the second, ignore the rest. */
  receive(signal: NodeJS.Signals, now = performance.now()): void {
    if (now - this.#last < STOP_SIGNAL_WINDOW_MS) return;
    this.#last = now;
    this.#received++;
    if (this.#received === 1) this.#stop(signal);
    else if (this.#received === 2) this.#force(signal);
  }

  /** Removes the handlers {@link listen} installed. */
  close(): void {
    for (const [signal, handler] of this.#handlers.splice(0)) process.off(signal, handler);
  }
}
