import { ResultBackend } from "./backend.ts";

/** In-memory results, for tests and single-process use. Waiting readers are woken on store. */
export class StubResultBackend extends ResultBackend {
  readonly #values = new Map<string, { value: string; expiresAt: number }>();
  readonly #waiters = new Map<string, Set<() => void>>();

  protected async storeRaw(key: string, value: string, ttl: number): Promise<void> {
    this.#values.set(key, { value, expiresAt: Date.now() + ttl });
    const waiters = this.#waiters.get(key);
    if (waiters) for (const wake of waiters) wake();
  }

  protected async readRaw(key: string, timeout: number): Promise<string | undefined> {
    const now = this.#read(key);
    if (now !== undefined || timeout <= 0) return now;
    await new Promise<void>((resolve) => {
      const waiters = this.#waiters.get(key) ?? new Set();
      this.#waiters.set(key, waiters);
      const done = () => {
        clearTimeout(timer);
        waiters.delete(done);
        if (waiters.size === 0) this.#waiters.delete(key);
        resolve();
      };
      const timer = setTimeout(done, timeout);
      waiters.add(done);
    });
    return this.#read(key);
  }

  #read(key: string): string | undefined {
    const entry = this.#values.get(key);
    if (entry === undefined) return undefined;
    if (entry.expiresAt <= Date.now()) {
      this.#values.delete(key);
      return undefined;
    }
    return entry.value;
  }

  async close(): Promise<void> {
    this.#values.clear();
  }
}
