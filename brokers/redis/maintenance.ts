import type { Logger } from "../../lib/logging.ts";
import type { RedisKeys } from "./keys.ts";
import type { MaintenanceCursors, Scripts } from "./scripts.ts";

/** Entries each part of a maintenance step visits (dramats consumers, foreign heartbeats, seen records). */
export const MAINTENANCE_LIMIT = 100;

/** What one maintenance pass did. */
export interface MaintenanceResult {
  /** Dead dramats consumers unregistered. */
  reaped: number;
  /** Messages of dead consumers (of either language) put back in their queues. */
  requeued: number;
  /** Dead letters removed past their TTL. */
  trimmed: number;
  /** Foreign (Python) heartbeats removed, dead for longer than the dead-message TTL. */
  forgotten: number;
  /** How far, in ms, the most advanced foreign heartbeat seen this pass is ahead of Redis's clock (0: none). */
  foreignClockAhead: number;
}

/** Settings of {@link Maintenance}. */
export interface MaintenanceSettings {
  heartbeatTimeout: number;
  deadMessageTtl: number;
  heartbeatInterval: number;
}

/**
 * Runs maintenance.lua pass after pass, keeping where the last one stopped: each pass visits a
 * bounded number of heartbeats, so its time in Redis does not grow with the heartbeats set
 * (every short-lived Python producer leaves one there).
 */
export class Maintenance {
  #cursors: MaintenanceCursors = { registry: "0", score: "", member: "", seen: "0" };
  #warnedAhead = 0;

  constructor(
    readonly scripts: Scripts,
    readonly keys: RedisKeys,
    readonly settings: MaintenanceSettings,
    readonly logger: Logger,
  ) {}

  /** One pass over `queues` (those this broker serves). */
  async run(queues: readonly string[]): Promise<MaintenanceResult> {
    const reply = await this.scripts.maintenance(
      { heartbeats: this.keys.heartbeats, registry: this.keys.consumers, seen: `${this.keys.prefix}__dramats_seen__`, prefix: this.keys.prefix },
      { heartbeatTimeout: this.settings.heartbeatTimeout, deadTtl: this.settings.deadMessageTtl, limit: MAINTENANCE_LIMIT, cursors: this.#cursors, queues },
    );
    this.#cursors = reply.cursors;
    const { cursors: _, ...result } = reply;
    if (result.reaped > 0 || result.requeued > 0) this.logger.warn(result, "Recovered the messages of dead consumers");
    this.#warnAhead(result.foreignClockAhead);
    return result;
  }

  /**
   * A Python host whose clock runs ahead of Redis's judges dramats' heartbeats (Redis TIME) that
   * much older than they are: ahead by more than its heartbeat timeout minus our interval, its
   * maintenance would requeue a live consumer's messages. Said once per new maximum.
   */
  #warnAhead(ahead: number): void {
    if (ahead <= this.settings.heartbeatInterval || ahead <= this.#warnedAhead) return;
    this.#warnedAhead = ahead;
    this.logger.warn({ aheadMs: ahead }, "A foreign (Python) heartbeat is ahead of Redis's clock; see the Redis broker README on clock skew");
  }
}
