import { randomUUID } from "node:crypto";
import { RateLimitExceeded } from "../errors.ts";
import { sleep } from "../sleep.ts";
import type { RateLimiterBackend } from "./backend.ts";

/** Options of `RateLimiter.acquire`. */
export interface AcquireOptions {
  /**
   * Wait up to this many ms for the limiter to admit the call instead of throwing
   * RateLimitExceeded at once. @defaultValue 0
   */
  wait?: number;
}

const MIN_WAIT_STEP = 5;
const MAX_WAIT_STEP = 250;

/**
 * A limit shared by every process using the same backend and key. `acquire(fn)` runs `fn`
 * when admitted; otherwise it throws RateLimitExceeded (which Retries retries with backoff)
 * or waits when asked to.
 */
export abstract class RateLimiter {
  /** Where the limit's state lives, shared by every process using it. */
  readonly backend: RateLimiterBackend;
  /** Names the limit: limiters with the same backend and key share it. */
  readonly key: string;

  /**
   * `settings`: a subclass's numeric options, each checked to be a positive number and kept
   * as the field of that name (which the subclass `declare`s, so no field initializer resets it).
   */
  constructor(backend: RateLimiterBackend, key: string, settings: Record<string, number> = {}) {
    if (!key) throw new RangeError("A rate limiter needs a non-empty key");
    this.backend = backend;
    this.key = key;
    for (const [name, value] of Object.entries(settings)) {
      if (!(value > 0) || !Number.isFinite(value)) throw new RangeError(`Rate limiter ${name} must be a positive number, got ${value}`);
    }
    Object.assign(this, settings);
  }

  /** One attempt to be admitted, as `holder`. */
  protected abstract tryAcquire(holder: string): Promise<boolean>;

  /** Undoes an admission once the call finished (only concurrent limiters hold anything). */
  protected async release(_holder: string): Promise<void> {}

  /** @throws RateLimitExceeded when not admitted (within `wait` ms). */
  async acquire<T>(fn: () => T | Promise<T>, options: AcquireOptions = {}): Promise<T> {
    const holder = randomUUID();
    if (!(await this.#admit(holder, options.wait ?? 0))) {
      throw new RateLimitExceeded(`Rate limit ${JSON.stringify(this.key)} exceeded`);
    }
    try {
      return await fn();
    } finally {
      await this.release(holder);
    }
  }

  async #admit(holder: string, wait: number): Promise<boolean> {
    if (await this.tryAcquire(holder)) return true;
    const deadline = Date.now() + wait;
    let step = MIN_WAIT_STEP;
    while (Date.now() < deadline) {
      await sleep(Math.min(step * (1 + Math.random()), deadline - Date.now()));
      if (await this.tryAcquire(holder)) return true;
      step = Math.min(step * 2, MAX_WAIT_STEP);
    }
    return false;
  }
}

/**
 * At most `limit` calls run at once across the fleet (a distributed semaphore; a mutex with
 * limit 1). A holder that dies frees its slot after `ttl` ms.
 */
export class ConcurrentRateLimiter extends RateLimiter {
  /** Calls that may run at once. @defaultValue 1 */
  declare readonly limit: number;
  /** Milliseconds after which a holder that never released its slot loses it. @defaultValue 900000 (15 minutes) */
  declare readonly ttl: number;

  constructor(backend: RateLimiterBackend, key: string, options: { limit?: number; ttl?: number } = {}) {
    super(backend, key, { limit: options.limit ?? 1, ttl: options.ttl ?? 900_000 });
  }

  protected tryAcquire(holder: string): Promise<boolean> {
    return this.backend.acquireSlot(this.key, holder, this.limit, this.ttl);
  }

  protected override release(holder: string): Promise<void> {
    return this.backend.releaseSlot(this.key, holder);
  }
}

/** At most `limit` calls in any `window` ms (a sliding window, so no bursts at window edges). */
export class WindowRateLimiter extends RateLimiter {
  /** Calls admitted per window. */
  declare readonly limit: number;
  /** Length of the sliding window, in ms. */
  declare readonly window: number;

  constructor(backend: RateLimiterBackend, key: string, options: { limit: number; window: number }) {
    super(backend, key, { limit: options.limit, window: options.window });
  }

  protected tryAcquire(): Promise<boolean> {
    return this.backend.hitWindow(this.key, this.limit, this.window);
  }
}

/** A token bucket: bursts of up to `capacity` calls, refilled at `capacity` per `period` ms. */
export class BucketRateLimiter extends RateLimiter {
  /** Most calls in a burst (the bucket's size). */
  declare readonly capacity: number;
  /** Milliseconds in which `capacity` tokens are refilled. */
  declare readonly period: number;

  constructor(backend: RateLimiterBackend, key: string, options: { capacity: number; period: number }) {
    super(backend, key, { capacity: options.capacity, period: options.period });
  }

  protected tryAcquire(): Promise<boolean> {
    return this.backend.takeToken(this.key, this.capacity, this.period);
  }
}
