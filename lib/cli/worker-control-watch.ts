import type { KeyValueStore } from "../key-value-store.ts";
import type { Logger } from "../logging.ts";
import { clearWorkerControl, readWorkerControl, type WorkerControlRequest } from "../worker-control.ts";

/** The longest a worker process waits between two looks at its control key (ms). */
export const MAX_CONTROL_PERIOD = 2_000;

/** What a WorkerControlWatch needs from its worker process. */
export interface WorkerControlWatchOptions {
  /** The store the worker registry is in (the broker's, or `--store`'s), opened on first use. */
  store: () => Promise<KeyValueStore>;
  /** This process's worker registry record id. */
  workerId: string;
  /** How often the key is read (ms). */
  period: number;
  /** A restart was asked: stop gracefully and have the supervisor start a replacement. */
  restart(reason: string): void;
  /** A stop was asked: stop gracefully, not to be replaced. */
  leave(reason: string): void;
  readonly log: Logger;
}

/**
 * Takes up the stop and restart requests the dashboard leaves for this worker process (see
 * lib/worker-control.ts): reads its key every `period` ms, deletes it and acts on it, once.
 * A store that fails is logged once per failing spell; the key is read again next period.
 */
export class WorkerControlWatch {
  readonly #options: WorkerControlWatchOptions;
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;
  #failing = false;

  constructor(options: WorkerControlWatchOptions) {
    this.#options = options;
  }

  start(): void {
    this.#schedule();
  }

  /** No more reads; a request already read is still carried out. */
  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
  }

  #schedule(): void {
    if (this.#stopped) return;
    this.#timer = setTimeout(() => void this.#check().finally(() => this.#schedule()), this.#options.period);
    this.#timer.unref();
  }

  async #check(): Promise<void> {
    const { store, workerId, log } = this.#options;
    let request: WorkerControlRequest | undefined;
    try {
      const opened = await store();
      request = await readWorkerControl(opened, workerId);
      // Stopping for another reason meanwhile: leave the request to the process's record (it expires).
      if (request !== undefined && !this.#stopped) await clearWorkerControl(opened, workerId);
      if (this.#failing) log.info({ workerId }, "Reading this process's control key succeeds again");
      this.#failing = false;
    } catch (error) {
      if (!this.#failing) log.warn({ err: error, workerId }, "Cannot read this process's control key (stop/restart requests); trying again");
      this.#failing = true;
      return;
    }
    if (request === undefined || this.#stopped) return;
    this.#stopped = true;
    const fields = { workerId, by: request.by, requestedAt: request.at };
    if (request.action === "restart") {
      log.info(fields, `Restart asked by ${request.by}: stopping gracefully; the supervisor starts a fresh process`);
      this.#options.restart(`restart asked by ${request.by}`);
    } else {
      log.warn(fields, `Stop asked by ${request.by}: stopping gracefully; the supervisor does not replace this process`);
      this.#options.leave(`stop asked by ${request.by}`);
    }
  }
}
