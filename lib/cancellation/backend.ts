/**
 * Where cancellations are recorded and announced. Workers keep a local copy of the live
 * cancellations (loaded at boot, then kept current by `subscribe`), so checking a message
 * costs no round trip.
 */
export interface CancellationBackend {
  /** Records that `messageId` is cancelled, for `ttl` ms, and tells every subscriber. */
  cancel(messageId: string, ttl: number): Promise<void>;
  /** Ids cancelled and not yet expired, with their expiry (epoch ms). */
  list(): Promise<Map<string, number>>;
  /** Calls `listener` for every cancellation from now on; resolves once listening. */
  subscribe(listener: (messageId: string, expiresAt: number) => void): Promise<() => Promise<void>>;
  /** Stops listening and releases the backend's connections. */
  close(): Promise<void>;
}
