import { Middleware } from "../middleware.ts";

export interface RecyclerOptions {
  /** Retire after this many processed messages. */
  maxMessages?: number | undefined;
  /** Retire once RSS passes this many MB (checked every `checkInterval` ms). */
  maxMemory?: number | undefined;
  checkInterval?: number;
  /** Called once, with why. */
  retire: (reason: string) => void;
}

/**
 * Decides when a worker process has done enough: after N messages, or above a memory
 * ceiling, so a leak in user code costs one process restart instead of the fleet.
 * A middleware, so the count is taken right after each actor ran, before the worker picks
 * the next message.
 */
export class Recycler extends Middleware {
  processed = 0;
  readonly #options: RecyclerOptions;
  #timer: NodeJS.Timeout | undefined;
  #retired = false;

  constructor(options: RecyclerOptions) {
    super();
    this.#options = options;
    if (options.maxMemory !== undefined) {
      const ceiling = options.maxMemory * 1024 * 1024;
      this.#timer = setInterval(() => {
        const rss = process.memoryUsage.rss();
        if (rss > ceiling) this.#retire(`RSS ${Math.round(rss / 1048576)} MB passed --max-memory ${options.maxMemory} MB`);
      }, options.checkInterval ?? 1_000);
      this.#timer.unref();
    }
  }

  afterProcessMessage(): void {
    this.processed++;
    const max = this.#options.maxMessages;
    if (max !== undefined && this.processed >= max) this.#retire(`processed ${this.processed} messages (--max-messages ${max})`);
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
  }

  #retire(reason: string): void {
    if (this.#retired) return;
    this.#retired = true;
    this.stop();
    this.#options.retire(reason);
  }
}
