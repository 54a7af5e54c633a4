import type { Consumer } from "../../lib/consumer.ts";
import { crashes, type RedisConsumer } from "./consumer.ts";

/**
 * For fault specs only (not exported from the package): the consumer stops the way a killed
 * process's does, giving nothing back, so its messages return only through recovery.
 */
export function abandonConsumer(consumer: Consumer): void {
  const crash = crashes.get(consumer as RedisConsumer);
  if (crash === undefined) throw new TypeError("Not a RedisConsumer");
  crash();
}
