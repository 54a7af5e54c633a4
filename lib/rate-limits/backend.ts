/**
 * The atomic operations rate limiters and barriers need. Each is one step in the backend's
 * store (one Lua script on Redis), so limits hold across processes and machines.
 */
export interface RateLimiterBackend {
  /**
   * Takes a slot for `holder` if fewer than `limit` live holders exist. A holder's slot
   * expires after `ttl` ms, so a dead process cannot keep it forever.
   */
  acquireSlot(key: string, holder: string, limit: number, ttl: number): Promise<boolean>;
  /** Frees `holder`'s slot. */
  releaseSlot(key: string, holder: string): Promise<void>;
  /** Records one hit if fewer than `limit` hits happened in the last `window` ms (a sliding window). */
  hitWindow(key: string, limit: number, window: number): Promise<boolean>;
  /**
   * Takes one token from a bucket of `capacity` tokens refilled at `capacity` per `period` ms.
   * @returns true when a token was taken
   */
  takeToken(key: string, capacity: number, period: number): Promise<boolean>;
  /** Creates a barrier for `parties` members unless it exists; false if it already did. */
  createBarrier(key: string, parties: number, ttl: number): Promise<boolean>;
  /**
   * Records that `member` arrived. Returns true when the barrier is complete (every member
   * arrived) and not closed: for the arrival that completes it, and for any later arrival
   * (a redelivered member) until `closeBarrier`. Repeated arrivals of one member count once,
   * so a redelivered member cannot complete the barrier early. Releasing what waits on the
   * barrier exactly once is the caller's part (GroupCallbacks enqueues the callbacks with a
   * claim in one broker step, then closes the barrier).
   */
  arriveAtBarrier(key: string, member: string): Promise<boolean>;
  /** Marks a complete barrier released: later arrivals return false. */
  closeBarrier(key: string): Promise<void>;
  /** Releases the backend's connections. */
  close(): Promise<void>;
}
