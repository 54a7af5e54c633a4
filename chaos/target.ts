// What the scenarios see of one broker under test (targets.ts opens them).
import type { Broker } from "../lib/broker.ts";

export const BROKERS = ["redis", "rabbitmq", "sqlite", "postgres"] as const;
export type BrokerName = (typeof BROKERS)[number];

export interface Target {
  readonly name: BrokerName;
  /** The runner's own broker on the same place: sends, depths. Its encoder can write poison. */
  readonly producer: Broker;
  /** The app's environment (app-env.ts) for one queue. */
  appEnv(queue: string): Record<string, string>;
  /** Cuts every connection of the worker processes and the producer (ours only); undefined: the broker has none. */
  readonly killConnections: (() => Promise<number>) | undefined;
  /** Cuts the producer's connections only. */
  readonly killProducerConnections: (() => Promise<number>) | undefined;
  /** Restarts the broker's server and resolves once it accepts connections again, with how long that took (ms); undefined: not this broker. */
  readonly restartServer?: (() => Promise<number>) | undefined;
  /** Writes bytes straight onto a queue, as a raw producer would; undefined for Buffers where the broker stores text only. */
  enqueueRaw(queue: string, body: string | Buffer): Promise<void>;
  /** Deletes everything this run created on the server. */
  close(): Promise<void>;
}
