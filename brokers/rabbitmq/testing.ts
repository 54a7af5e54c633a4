/**
 * Faults and counts for specs, reached through `internals.ts` rather than through the public
 * classes. Not exported from the package entry (`dramats/brokers/rabbitmq`).
 */
import type { ChannelModel } from "amqplib";
import type { Socket } from "node:net";
import type { Connector } from "./connector.ts";
import type { RabbitmqConsumer } from "./consumer.ts";
import type { RabbitmqBroker } from "./index.ts";
import { brokerInternals, consumerInternals } from "./internals.ts";

/** Deliveries the consumer holds unsettled, buffered ones included. */
export function heldBy(consumer: RabbitmqConsumer): number {
  return consumerInternals(consumer).held;
}

/** Makes RabbitMQ close the consumer's channel with a protocol error (an ack for an unknown delivery tag). */
export function provokeChannelError(consumer: RabbitmqConsumer): void {
  consumerInternals(consumer).provokeChannelError();
}

/** The consumer vanishes like a killed process: its socket is destroyed, nothing acked or requeued. */
export function abandon(consumer: RabbitmqConsumer): void {
  consumerInternals(consumer).abandon();
}

/** Destroys the socket of the broker's own (publishing and admin) connection; it reconnects. */
export function dropConnection(broker: RabbitmqBroker): void {
  brokerInternals(broker).connector.dropSocket(new Error("connection dropped for tests"));
}

/** The TCP socket of the broker's own connection, once connected (none over TLS). */
export function brokerSocket(broker: RabbitmqBroker): Socket | undefined {
  return brokerInternals(broker).connector.socket;
}

/** A connector with the broker's URL, TLS and backoff settings. */
export function newConnector(broker: RabbitmqBroker, name: string, setup: (model: ChannelModel) => Promise<void> = async () => {}): Connector {
  return brokerInternals(broker).newConnector(name, setup);
}
