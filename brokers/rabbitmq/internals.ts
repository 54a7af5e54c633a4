import type { ChannelModel } from "amqplib";
import type { Connector } from "./connector.ts";

/**
 * What the broker and the fault specs reach in a consumer, kept off its public surface: the
 * package entry (`index.ts`) exports neither this module nor `testing.ts`.
 */
export interface ConsumerInternals {
  /** Deliveries held unsettled, buffered ones included. */
  readonly held: number;
  /** Whether RabbitMQ counts this consumer's busy marker on `q.IF` (see `busy-marker.ts`). */
  busyMarked(): boolean;
  /** Resolves when no change of the busy marker is on its way. */
  busySettled(): Promise<void>;
  /** Acks (drops) what waits in the buffer: `flush` for what the consumer prefetched. */
  discardPrefetched(): void;
  /** Makes RabbitMQ close the consuming channel with a protocol error, as a bug or a consumer timeout would. */
  provokeChannelError(): void;
  /** Vanishes like a killed process: the socket is destroyed and nothing is acked or requeued. */
  abandon(): void;
}

/** What the fault specs reach in a broker. */
export interface BrokerInternals {
  readonly connector: Connector;
  newConnector(name: string, setup: (model: ChannelModel) => Promise<void>): Connector;
}

const consumers = new WeakMap<object, ConsumerInternals>();
const brokers = new WeakMap<object, BrokerInternals>();

export function registerConsumer(consumer: object, internals: ConsumerInternals): void {
  consumers.set(consumer, internals);
}

export function consumerInternals(consumer: object): ConsumerInternals {
  const internals = consumers.get(consumer);
  if (internals === undefined) throw new TypeError("not a RabbitmqConsumer");
  return internals;
}

export function registerBroker(broker: object, internals: BrokerInternals): void {
  brokers.set(broker, internals);
}

export function brokerInternals(broker: object): BrokerInternals {
  const internals = brokers.get(broker);
  if (internals === undefined) throw new TypeError("not a RabbitmqBroker");
  return internals;
}
