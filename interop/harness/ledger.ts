// The run's ledger: every actor run, on either side, RPUSHes one JSON record onto a Redis list;
// this reads them as they come (BLPOP, no polling) and lets checks wait for the ones they expect.
import { Redis } from "ioredis";
import { checkError } from "./errors.ts";

/** One run, as interop_app.py and interop/node/app.ts record it. */
export interface Run {
  side: "python" | "node";
  pid: number;
  actor: string;
  tag: string;
  args: unknown[];
  kwargs: Record<string, unknown>;
  message_id: string;
  queue: string;
  priority: number | null;
  retries: number;
  group: string | null;
  /** Epoch ms, the recording host's clock. */
  at: number;
}

export class Ledger {
  readonly runs: Run[] = [];
  readonly #client: Redis;
  readonly #key: string;
  #waiters = new Set<() => void>();
  #closed = false;
  readonly #loop: Promise<void>;

  constructor(redisUrl: string, key: string) {
    this.#key = key;
    this.#client = new Redis(redisUrl, { maxRetriesPerRequest: null });
    this.#client.on("error", () => undefined);
    this.#loop = this.#read();
  }

  async #read(): Promise<void> {
    while (!this.#closed) {
      let popped: [string, string] | null;
      try {
        popped = await this.#client.blpop(this.#key, 0.5);
      } catch {
        if (this.#closed) return;
        await new Promise((resolve) => setTimeout(resolve, 100));
        continue;
      }
      if (popped === null) continue;
      this.runs.push(JSON.parse(popped[1]) as Run);
      // Drain what else is there in one go before waking the waiters.
      const more = await this.#client.lpop(this.#key, 1000).catch(() => null);
      for (const line of more ?? []) this.runs.push(JSON.parse(line) as Run);
      for (const wake of this.#waiters) wake();
    }
  }

  /** The runs `test` accepts, so far. */
  select(test: (run: Run) => boolean): Run[] {
    return this.runs.filter(test);
  }

  /**
   * Resolves with the runs `test` accepts once there are at least `count`; rejects after `timeout`
   * ms with `what` and what was seen.
   */
  waitFor(what: string, test: (run: Run) => boolean, count: number, timeout: number): Promise<Run[]> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const found = this.select(test);
        if (found.length < count) return false;
        clearTimeout(timer);
        this.#waiters.delete(wake);
        resolve(found);
        return true;
      };
      const wake = () => void check();
      const timer = setTimeout(() => {
        this.#waiters.delete(wake);
        const found = this.select(test);
        reject(checkError(`${what}: ${found.length} of ${count} expected runs within ${timeout} ms${found.length ? ` (seen: ${summarize(found)})` : ""}`));
      }, timeout);
      if (!check()) this.#waiters.add(wake);
    });
  }

  /** Resolves with the matching runs recorded within `ms` (a quiet period to catch extra runs). */
  async settle(test: (run: Run) => boolean, countAbove: number, ms: number): Promise<Run[]> {
    try {
      return await this.waitFor("settle", test, countAbove + 1, ms);
    } catch {
      return this.select(test);
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#client.disconnect();
    await this.#loop.catch(() => undefined);
  }
}

/** A short description of runs for failure messages. */
export function summarize(runs: Run[]): string {
  return runs
    .slice(0, 6)
    .map((r) => `${r.side} ${r.actor}(${JSON.stringify(r.args)}) retries=${r.retries}`)
    .join("; ") + (runs.length > 6 ? `; ... ${runs.length - 6} more` : "");
}
