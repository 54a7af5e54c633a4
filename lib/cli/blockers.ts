import type { Logger } from "../logging.ts";
import { readRunning } from "./block-watch.ts";

/** How many event-loop-blocking message ids the supervisor remembers. */
const MAX_BLOCKED_IDS = 1_000;

/**
 * The supervisor's memory of messages that blocked a worker process's event loop. The first
 * blocked process turns on recording (every process then writes which message it runs); from
 * the second on, the message named in the dead process's running file is remembered and every
 * other process is told, so that it is dead-lettered when redelivered instead of blocking again.
 */
export class Blockers {
  /** Oldest first. */
  readonly #ids = new Set<string>();
  #watching = false;
  readonly #log: Logger;

  constructor(log: Logger) {
    this.#log = log;
  }

  /** Ids to hand a new worker process. */
  get ids(): string[] {
    return [...this.#ids];
  }

  /** True once worker processes record the message they run. */
  get watching(): boolean {
    return this.#watching;
  }

  /**
   * A process was killed for blocking its event loop. `tell` reaches every other process:
   * with "watch" the first time, then with the id of the blocking message when it is known.
   */
  note(pid: number | undefined, runningFile: string, tell: (command: { type: "watch" } | { type: "blocked"; ids: string[] }) => void): void {
    if (!this.#watching) {
      this.#watching = true;
      this.#log.warn("Worker processes now record which message runs, to name a message that blocks again");
      tell({ type: "watch" });
      return;
    }
    const id = readRunning(runningFile);
    if (id === undefined) {
      this.#log.warn({ pid }, "The process was blocked outside any message's processing: no message is named");
      return;
    }
    this.#ids.add(id);
    if (this.#ids.size > MAX_BLOCKED_IDS) this.#ids.delete(this.#ids.values().next().value!);
    this.#log.error({ messageId: id, pid }, "Message blocked the event loop; it will be dead-lettered when redelivered");
    tell({ type: "blocked", ids: [id] });
  }
}
