import type { ConfirmChannel } from "amqplib";
import { BrokerError, ConnectionClosed } from "../../lib/errors.ts";
import type { Logger } from "../../lib/logging.ts";
import type { Connector } from "./connector.ts";

/** What a publish may set besides the body: always persistent and mandatory. */
export interface PublishProperties {
  priority?: number | undefined;
  headers?: Record<string, unknown> | undefined;
}

/** One message of {@link Publisher.publishAll}. */
export interface Publish {
  readonly exchange: string;
  readonly routingKey: string;
  readonly content: Buffer;
  readonly properties: PublishProperties;
}

/**
 * Publishes persistent messages with publisher confirms on one confirm channel of a connector.
 * Every publish is written at once and settles when RabbitMQ confirms it, so many concurrent
 * publishes share the round trip (RabbitMQ acks them in batches) instead of waiting in turn.
 *
 * - confirmed and routed: resolves (`publish`: `true`);
 * - confirmed but returned as unroutable (`mandatory`): `publish` resolves `false` and
 *   `publishAll` lists it, so the caller can redeclare the queue and try again;
 * - nacked by RabbitMQ: rejects with a BrokerError;
 * - the channel or connection closed before the confirm: rejects with ConnectionClosed (the
 *   message may or may not have arrived: there is no way to tell on AMQP).
 */
export class Publisher {
  readonly #connector: Connector;
  readonly #log: Logger;
  #channel: ConfirmChannel | undefined;
  #opening: Promise<ConfirmChannel> | undefined;
  /** Numbers the publishes; a publish's message id is its number in base 36, to match returns. */
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

  /** Publishes one message; resolves `false` when RabbitMQ returned it as unroutable. */
  publish(exchange: string, routingKey: string, content: Buffer, properties: PublishProperties): Promise<boolean> {
    const channel = this.#channel;
    // No await on the hot path: one promise per publish, settled by its confirm.
    if (channel === undefined) return this.#open().then((opened) => this.#publishOne(opened, exchange, routingKey, content, properties));
    return this.#publishOne(channel, exchange, routingKey, content, properties);
  }

  #publishOne(channel: ConfirmChannel, exchange: string, routingKey: string, content: Buffer, properties: PublishProperties): Promise<boolean> {
    const id = (++this.#seq).toString(36);
    return new Promise<boolean>((resolve, reject) => {
      this.#write(channel, id, exchange, routingKey, content, properties, (error: unknown) => {
        this.#settled(1);
        const returned = this.#wasReturned(id);
        if (error == null) resolve(!returned);
        else reject(translate(error));
      });
    });
  }

  /**
   * Publishes every message at once, tracking their confirms with one counter rather than a
   * promise each. Resolves, once all are confirmed, with the indexes of those RabbitMQ
   * returned as unroutable (usually none); rejects with the first failure once all settled.
   */
  publishAll(publishes: readonly Publish[]): Promise<number[]> {
    if (publishes.length === 0) return Promise.resolve([]);
    const channel = this.#channel;
    if (channel === undefined) return this.#open().then((opened) => this.#publishMany(opened, publishes));
    return this.#publishMany(channel, publishes);
  }

  #publishMany(channel: ConfirmChannel, publishes: readonly Publish[]): Promise<number[]> {
    return new Promise<number[]>((resolve, reject) => {
      let waiting = publishes.length;
      let failure: unknown;
      const first = this.#seq + 1;
      // One callback for the whole batch: amqplib calls it once per message as confirms arrive.
      const confirmed = (error: unknown) => {
        if (error != null) failure ??= error;
        if (--waiting > 0) return;
        this.#settled(publishes.length);
        const returned: number[] = [];
        if (this.#returned.size > 0) {
          for (let i = 0; i < publishes.length; i++) if (this.#wasReturned((first + i).toString(36))) returned.push(i);
        }
        if (failure === undefined) resolve(returned);
        else reject(translate(failure));
      };
      for (const p of publishes) this.#write(channel, (++this.#seq).toString(36), p.exchange, p.routingKey, p.content, p.properties, confirmed);
    });
  }

  /** Writes one publish (amqplib buffers what the socket cannot take yet). */
  #write(channel: ConfirmChannel, id: string, exchange: string, routingKey: string, content: Buffer, properties: PublishProperties, confirmed: (error: unknown) => void): void {
    this.#outstanding++;
    try {
      channel.publish(exchange, routingKey, content, { persistent: true, mandatory: true, messageId: id, priority: properties.priority, headers: properties.headers }, confirmed);
    } catch (error) {
      // The channel closed since we looked: amqplib throws IllegalOperationError.
      confirmed(error);
      return;
    }
    this.#connector.batchWrites();
  }

  #wasReturned(id: string): boolean {
    return this.#returned.size > 0 && this.#returned.delete(id);
  }

  #settled(count: number): void {
    this.#outstanding -= count;
    if (this.#outstanding === 0 && this.#idleWaiters.length > 0) {
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
