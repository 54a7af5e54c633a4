// The duplicate bound the suite holds each broker to, in one place.
import { ACK_FLUSH_COUNT } from "../lib/ack-flush.ts";
import { MAX_ADAPTIVE } from "../lib/worker/prefetch-window.ts";
import type { FleetSettings } from "./fleet.ts";
import type { BrokerName } from "./targets.ts";

/**
 * Finished messages one consumer may hold unacknowledged, by broker: on Redis, SQLite and PostgreSQL acks are
 * written at once when ACK_FLUSH_COUNT are pending (lib/ack-flush.ts), so at most one fewer wait;
 * on RabbitMQ amqplib writes on a setImmediate of its own, so the finished ones are those of the
 * last turn of the event loop, at most the prefetch window (brokers/rabbitmq/README.md).
 */
export const UNACKED_FINISHED: Readonly<Record<BrokerName, number>> = {
  redis: ACK_FLUSH_COUNT - 1,
  sqlite: ACK_FLUSH_COUNT - 1,
  postgres: ACK_FLUSH_COUNT - 1,
  rabbitmq: MAX_ADAPTIVE,
};

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
export const perProcess = (settings: FleetSettings, broker: BrokerName): number => settings.threads + UNACKED_FINISHED[broker];

/** The formula, as printed next to the tables. */
export const BOUND_FORMULA =
  "duplicates ≤ Σ over faults of (processes the fault hit) × (threads + unacknowledged finished messages); " +
  `the latter ${UNACKED_FINISHED.redis} on Redis, SQLite and PostgreSQL (ACK_FLUSH_COUNT - 1), ${UNACKED_FINISHED.rabbitmq} on RabbitMQ (the prefetch window's cap). A worker SIGKILL hits 1 process, a supervisor SIGKILL or a connection kill all of them, ` +
  `a server restart all of them, a graceful SIGTERM none (bound 0); a producer cut allows ${SEND_WINDOW} (its send window) per cut. ` +
  "Prefetched but unstarted messages are redelivered without having run, so the prefetch window does not enter the bound.";
