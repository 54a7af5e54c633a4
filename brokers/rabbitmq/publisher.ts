import type { ConfirmChannel } from "amqplib";
import { BrokerError, ConnectionClosed } from "../../lib/errors.ts";
import type { Logger } from "../../lib/logging.ts";
import type { Connector } from "./connector.ts";

/** What a publish may set besides the body: always persistent and mandatory. */
export interface PublishProperties {
  priority?: number | undefined;
  headers?: Record<string, unknown> | undefined;
}

/**
 * Publishes persistent messages with publisher confirms on one confirm channel of a connector. Every publish is
 * written at once and its promise settles when RabbitMQ confirms it, so many concurrent
 * publishes share the round trip (RabbitMQ acks them in batches) instead of waiting in turn.
 *
 * - confirmed and routed: resolves `true`;
 * - confirmed but returned as unroutable (`mandatory`): resolves `false`, so the caller can
 *   redeclare the queue and try again;
 * - nacked by RabbitMQ: rejects with a BrokerError;
 * - the channel or connection closed before the confirm: rejects with ConnectionClosed (the
 *   message may or may not have arrived: there is no way to tell on AMQP).
 */
export class Publisher {
  readonly #connector: Connector;
  readonly #log: Logger;
  #channel: ConfirmChannel | undefined;
  #opening: Promise<ConfirmChannel> | undefined;
  #seq = 0;
  /** Publish ids RabbitMQ returned as unroutable; the return always precedes the confirm. */
  readonly #returned = new Set<string>();
  #outstanding = 0;
  #idleWaiters: (() => void)[] = [];

  constructor(connector: Connector, logger: Logger) {
    this.#connector = connector;
    this.#log = logger;
  }

  /** Publishes awaiting confirmation. */
  get outstanding(): number {
    return this.#outstanding;
  }

  publish(exchange: string, routingKey: string, content: Buffer, options: PublishProperties): Promise<boolean> {
    const channel = this.#channel;
    // No await on the hot path: one promise per publish, settled by its confirm.
    if (channel === undefined) return this.#open().then((opened) => this.#write(opened, exchange, routingKey, content, options));
    return this.#write(channel, exchange, routingKey, content, options);
  }

  #write(channel: ConfirmChannel, exchange: string, routingKey: string, content: Buffer, options: PublishProperties): Promise<boolean> {
    const id = (++this.#seq).toString(36);
    this.#outstanding++;
    return new Promise<boolean>((resolve, reject) => {
      const done = (error: unknown) => {
        this.#settled();
        if (error == null) resolve(!this.#returned.delete(id));
        else reject(translate(error));
      };
      // amqplib buffers what the socket cannot take yet; callers are paced by the confirms.
      const properties = { persistent: true, mandatory: true, messageId: id, priority: options.priority, headers: options.headers };
      try {
        channel.publish(exchange, routingKey, content, properties, done);
      } catch (error) {
        // The channel closed since we looked: amqplib throws IllegalOperationError.
        done(error);
      }
    });
  }

  #settled(): void {
    if (--this.#outstanding === 0 && this.#idleWaiters.length > 0) {
      const waiters = this.#idleWaiters;
      this.#idleWaiters = [];
      for (const wake of waiters) wake();
    }
  }

  /** Resolves once every publish so far is confirmed or failed. */
  whenIdle(): Promise<void> {
    if (this.#outstanding === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  #open(): Promise<ConfirmChannel> {
    this.#opening ??= (async () => {
      try {
        const model = await this.#connector.ready();
        const channel = await model.createConfirmChannel();
        channel.on("error", (error: Error) => this.#log.warn({ err: error }, "RabbitMQ publish channel error"));
        channel.on("return", (message: { properties: { messageId?: string } }) => {
          const id = message.properties.messageId;
          if (id !== undefined) this.#returned.add(id);
        });
        channel.on("close", () => {
          if (this.#channel === channel) this.#channel = undefined;
        });
        this.#channel = channel;
        return channel;
      } catch (error) {
        throw translate(error);
      } finally {
        this.#opening = undefined;
      }
    })();
    return this.#opening;
  }

  /** Drops the channel (the connector's reconnect brings a new one on the next publish). */
  forget(): void {
    this.#channel = undefined;
  }
}

/** amqplib errors → dramats' typed errors. */
export function translate(error: unknown): unknown {
  if (error instanceof BrokerError) return error;
  const message = error instanceof Error ? error.message : String(error);
  if (message === "message nacked") {
    return new BrokerError("RabbitMQ refused the message (basic.nack); it was not stored", { cause: error });
  }
  const name = error instanceof Error ? error.name : "";
  const code = (error as { code?: unknown } | null)?.code;
  if (name === "IllegalOperationError" || /channel closed|connection closed|socket closed|ECONNRESET|EPIPE/i.test(message) || code === 320) {
    return new ConnectionClosed(`RabbitMQ connection or channel closed: ${message}`, { cause: error });
  }
  return new BrokerError(`RabbitMQ operation failed: ${message}`, { cause: error });
}
