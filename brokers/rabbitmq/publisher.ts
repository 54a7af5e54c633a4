import type { ConfirmChannel, Options } from "amqplib";
import { BrokerError, ConnectionClosed } from "../../lib/errors.ts";
import type { Logger } from "../../lib/logging.ts";
import type { Connector } from "./connector.ts";

/**
 * Publishes with publisher confirms on one confirm channel of a connector. Every publish is
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
  #drained: Promise<void> | undefined;
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

  async publish(exchange: string, routingKey: string, content: Buffer, options: Options.Publish): Promise<boolean> {
    const channel = this.#channel ?? (await this.#open());
    if (this.#drained) await this.#drained;
    const id = (++this.#seq).toString(36);
    this.#outstanding++;
    return new Promise<boolean>((resolve, reject) => {
      const done = (error: unknown) => {
        this.#settled();
        if (error == null) resolve(!this.#returned.delete(id));
        else reject(translate(error));
      };
      let writable: boolean;
      try {
        writable = channel.publish(exchange, routingKey, content, { ...options, messageId: id, mandatory: true }, done);
      } catch (error) {
        // The channel closed since we looked: amqplib throws IllegalOperationError.
        done(error);
        return;
      }
      if (!writable && !this.#drained) {
        this.#drained = new Promise<void>((wake) => {
          const release = () => {
            channel.off("drain", release);
            channel.off("close", release);
            this.#drained = undefined;
            wake();
          };
          channel.on("drain", release);
          channel.on("close", release);
        });
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
