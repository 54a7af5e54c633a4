// The duplicate bound the suite holds each broker to, in one place.
import type { FleetSettings } from "./fleet.ts";

/**
 * Finished-but-unacknowledged acks one consumer may hold before it must flush them. A
 * placeholder: the worker is being changed to bound its pending acks, and the lead wires this
 * to the constant it exports. Until then the worker's real figure is what the acks riding on
 * the next fetch make it (up to the prefetch window), and the tables show where that exceeds it.
 */
export const ACK_FLUSH_MAX = 64;

/** How early a delayed message may start, at most (ms): DESIGN.md's stated precision. */
export const DELAY_PRECISION = 100;

/** Sends one producer keeps in flight at once (producer scenario). */
export const SEND_WINDOW = 64;

/**
 * Runs one process can repeat after one fault: the actors running when it was hit (`threads`),
 * whose runs may be recorded and never acknowledged, plus the finished runs whose acks it had not
 * flushed. Prefetched messages that never started come back without having run: prefetch adds
 * nothing to the bound, only to how many messages move.
 */
export const perProcess = (settings: FleetSettings): number => settings.threads + ACK_FLUSH_MAX;

/** The formula, as printed next to the tables. */
export const BOUND_FORMULA =
  "duplicates ≤ Σ over faults of (processes the fault hit) × (threads + ACK_FLUSH_MAX); " +
  `ACK_FLUSH_MAX = ${ACK_FLUSH_MAX}. A worker SIGKILL hits 1 process, a supervisor SIGKILL or a connection kill all of them, ` +
  `a graceful SIGTERM none (bound 0); a producer cut allows ${SEND_WINDOW} (its send window) per cut. ` +
  "Prefetched but unstarted messages are redelivered without having run, so the prefetch window does not enter the bound.";
