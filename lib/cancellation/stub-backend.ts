import type { CancellationBackend } from "./backend.ts";

/** Cancellations in memory, for tests and single-process use. */
export class StubCancellationBackend implements CancellationBackend {
  readonly #cancelled = new Map<string, number>();
  readonly #listeners = new Set<(messageId: string, expiresAt: number) => void>();

  async cancel(messageId: string, ttl: number): Promise<void> {
    const expiresAt = Date.now() + ttl;
    this.#cancelled.set(messageId, expiresAt);
    for (const listener of this.#listeners) listener(messageId, expiresAt);
  }

  async list(): Promise<Map<string, number>> {
    const now = Date.now();
    for (const [id, expiresAt] of this.#cancelled) if (expiresAt <= now) this.#cancelled.delete(id);
    return new Map(this.#cancelled);
  }

  async subscribe(listener: (messageId: string, expiresAt: number) => void): Promise<() => Promise<void>> {
    this.#listeners.add(listener);
    return async () => {
      this.#listeners.delete(listener);
    };
  }

  async close(): Promise<void> {
    this.#listeners.clear();
  }
}
