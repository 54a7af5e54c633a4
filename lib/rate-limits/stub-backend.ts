import type { RateLimiterBackend } from "./backend.ts";

interface Expiring<T> {
  value: T;
  expiresAt: number;
}

/** Rate limits and barriers in memory, for tests and single-process use. */
export class StubRateLimiterBackend implements RateLimiterBackend {
  readonly #slots = new Map<string, Map<string, number>>();
  readonly #hits = new Map<string, number[]>();
  readonly #buckets = new Map<string, { tokens: number; at: number }>();
  readonly #barriers = new Map<string, Expiring<{ parties: number; arrived: Set<string>; fired: boolean }>>();

  async acquireSlot(key: string, holder: string, limit: number, ttl: number): Promise<boolean> {
    const now = Date.now();
    const holders = this.#slots.get(key) ?? new Map<string, number>();
    this.#slots.set(key, holders);
    for (const [h, expiresAt] of holders) if (expiresAt <= now) holders.delete(h);
    if (holders.size >= limit && !holders.has(holder)) return false;
    holders.set(holder, now + ttl);
    return true;
  }

  async releaseSlot(key: string, holder: string): Promise<void> {
    this.#slots.get(key)?.delete(holder);
  }

  async hitWindow(key: string, limit: number, window: number): Promise<boolean> {
    const now = Date.now();
    const hits = (this.#hits.get(key) ?? []).filter((t) => t > now - window);
    this.#hits.set(key, hits);
    if (hits.length >= limit) return false;
    hits.push(now);
    return true;
  }

  async takeToken(key: string, capacity: number, period: number): Promise<boolean> {
    const now = Date.now();
    const bucket = this.#buckets.get(key) ?? { tokens: capacity, at: now };
    bucket.tokens = Math.min(capacity, bucket.tokens + ((now - bucket.at) * capacity) / period);
    bucket.at = now;
    this.#buckets.set(key, bucket);
    if (bucket.tokens < 1) return false;
    bucket.tokens -= 1;
    return true;
  }

  async createBarrier(key: string, parties: number, ttl: number): Promise<boolean> {
    const existing = this.#barriers.get(key);
    if (existing && existing.expiresAt > Date.now()) return false;
    this.#barriers.set(key, { value: { parties, arrived: new Set(), fired: false }, expiresAt: Date.now() + ttl });
    return true;
  }

  async arriveAtBarrier(key: string, member: string): Promise<boolean> {
    const barrier = this.#barriers.get(key);
    if (!barrier || barrier.expiresAt <= Date.now()) return false;
    const state = barrier.value;
    state.arrived.add(member);
    return !state.fired && state.arrived.size >= state.parties;
  }

  async closeBarrier(key: string): Promise<void> {
    const barrier = this.#barriers.get(key);
    if (barrier && barrier.expiresAt > Date.now()) barrier.value.fired = true;
  }

  async close(): Promise<void> {
    this.#slots.clear();
    this.#hits.clear();
    this.#buckets.clear();
    this.#barriers.clear();
  }
}
