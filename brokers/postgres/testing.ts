import type { Consumer } from "../../lib/consumer.ts";
import { crashes, type PostgresConsumer } from "./consumer.ts";

/**
 * For fault specs only (not exported from the package): the consumer stops the way a killed
 * process's does (no heartbeat, nothing given back), so its messages return only when their
 * leases expire or through recovery.
 */
export function abandonConsumer(consumer: Consumer): void {
  const crash = crashes.get(consumer as PostgresConsumer);
  if (crash === undefined) throw new TypeError("Not a PostgresConsumer");
  crash();
}
