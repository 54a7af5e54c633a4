import amqp, { type SocketOptions } from "amqplib";
import type { ConnectionOptions as TlsOptions } from "node:tls";
import type { BrokerOptions } from "../../lib/broker.ts";
import { InvalidOptions } from "../../lib/errors.ts";
import { addUrlSecret, redactUrl } from "../../lib/redact.ts";
import type { ConnectorSettings } from "./connector.ts";
import { DEFAULT_DEAD_MESSAGE_TTL } from "./topology.ts";

/** Options of {@link RabbitmqBroker}. Times are in milliseconds. */
export interface RabbitmqBrokerOptions extends BrokerOptions {
  /**
   * `amqp://user:pass@host:port/vhost?heartbeat=10` or `amqps://…` for TLS. Credentials are
   * percent-decoded; the vhost is the path (`/%2F` or nothing is `/`). `?max_priority=N` sets
   * `maxPriority` unless the option does.
   * @defaultValue `amqp://127.0.0.1:5672` (guest/guest)
   */
  url?: string;
  /**
   * TLS options for `amqps://` (`ca`, `cert`, `key`, `passphrase`, `servername`,
   * `rejectUnauthorized`...), passed to `tls.connect`.
   */
  tls?: TlsOptions;
  /**
   * AMQP heartbeat interval in ms, rounded up to whole seconds (AMQP's unit); 0 turns heartbeats
   * off. Overrides the URL's `heartbeat` (seconds). A missed pair of heartbeats drops the
   * connection, so keep it above the longest time the event loop may be blocked.
   * @defaultValue the URL's `heartbeat`, else 15000
   */
  heartbeat?: number;
  /**
   * Broker priorities: the `x-max-priority` of `q` and `q.DQ`, 1..255; `null` (or 0) declares
   * none, as Python Dramatiq does by default (its `max_priority`). Every producer and worker of a
   * queue must declare the same, or RabbitMQ refuses the second declaration
   * (`QueueArgumentsMismatch`). A dramats priority p is sent as AMQP priority
   * `maxPriority - clamp(p, 0, maxPriority)`. Without it, `priority` still orders the messages a
   * worker has prefetched.
   * @defaultValue the URL's `max_priority`, else none (Dramatiq's declaration)
   */
  maxPriority?: number | null;
  /** `x-message-ttl` of `q.XQ` (ms). @defaultValue env `dramatiq_dead_message_ttl`, else 7 days */
  deadMessageTtl?: number;
  /** How long an operation waits for a (re)connection before failing with ConnectionFailed (ms). @defaultValue 10000 */
  connectTimeout?: number;
  /** First reconnect delay (ms); doubles per failed attempt. @defaultValue 100 */
  minReconnectDelay?: number;
  /** Longest reconnect delay (ms). @defaultValue 5000 */
  maxReconnectDelay?: number;
  /** Unacknowledged `q.DQ` messages a consumer moves at once. @defaultValue 100 */
  delayQueuePrefetch?: number;
}

/** The broker URL's query parameter for `maxPriority`, spelt as Dramatiq's `max_priority` argument. */
export const MAX_PRIORITY_PARAMETER = "max_priority";

/** The resolved settings (defaults applied, validated). */
export interface RabbitmqSettings {
  readonly url: string;
  readonly redactedUrl: string;
  readonly socketOptions: SocketOptions;
  readonly maxPriority: number | undefined;
  readonly deadMessageTtl: number;
  readonly connectTimeout: number;
  readonly minReconnectDelay: number;
  readonly maxReconnectDelay: number;
  readonly delayQueuePrefetch: number;
}

export const RABBITMQ_DEFAULTS = Object.freeze({
  url: "amqp://127.0.0.1:5672",
  heartbeat: 15_000,
  connectTimeout: 10_000,
  minReconnectDelay: 100,
  maxReconnectDelay: 5_000,
  delayQueuePrefetch: 100,
});

/**
 * Applies defaults and validates.
 * @throws InvalidOptions for a URL that is not amqp:// or amqps://; RangeError for bad numbers.
 */
export function resolveSettings(options: RabbitmqBrokerOptions): RabbitmqSettings {
  const raw = options.url ?? RABBITMQ_DEFAULTS.url;
  let url: URL;
  try {
    url = new URL(raw);
  } catch (error) {
    throw new InvalidOptions(`RabbitmqBroker url ${JSON.stringify(redactUrl(raw))} is not a valid URL`, { cause: error });
  }
  // The password this process will use is masked wherever it shows up in output (lib/redact.ts).
  addUrlSecret(raw);
  if (url.protocol !== "amqp:" && url.protocol !== "amqps:") {
    throw new InvalidOptions(`RabbitmqBroker url must start with amqp:// or amqps://, got ${JSON.stringify(url.protocol)}`);
  }

  if (options.heartbeat !== undefined) {
    const ms = nonNegative("heartbeat", options.heartbeat);
    if (ms > 0 && ms < 1000) throw new RangeError(`RabbitmqBroker option heartbeat is in ms and must be 0 or at least 1000, got ${ms}`);
    url.searchParams.set("heartbeat", String(Math.ceil(ms / 1000)));
  } else if (!url.searchParams.has("heartbeat")) {
    url.searchParams.set("heartbeat", String(RABBITMQ_DEFAULTS.heartbeat / 1000));
  }

  const socketOptions: SocketOptions = { noDelay: true, timeout: 10_000, ...options.tls };
  if (url.username !== "" || url.password !== "") {
    // amqplib decodes credentials with the legacy `unescape`, which mangles UTF-8: decode them here.
    socketOptions.credentials = amqp.credentials.plain(decodeURIComponent(url.username), decodeURIComponent(url.password));
  }

  // Not amqplib's: taken off the URL it is given (the redacted URL keeps it, for logs).
  const urlMaxPriority = url.searchParams.get(MAX_PRIORITY_PARAMETER);
  url.searchParams.delete(MAX_PRIORITY_PARAMETER);
  let maxPriority: number | undefined;
  if (options.maxPriority === null || options.maxPriority === 0) maxPriority = undefined;
  else if (options.maxPriority !== undefined) {
    if (!Number.isInteger(options.maxPriority) || options.maxPriority < 1 || options.maxPriority > 255) {
      throw new RangeError(`RabbitmqBroker option maxPriority must be an integer in 1..255 or null, got ${options.maxPriority}`);
    }
    maxPriority = options.maxPriority;
  } else if (urlMaxPriority !== null) {
    const value = /^\d{1,3}$/.test(urlMaxPriority) ? Number(urlMaxPriority) : NaN;
    if (!(value >= 0 && value <= 255)) {
      throw new RangeError(`URL parameter ${MAX_PRIORITY_PARAMETER} must be a whole number in 0..255 (0 declares none), got ${JSON.stringify(urlMaxPriority)}`);
    }
    maxPriority = value === 0 ? undefined : value;
  }

  const envTtl = Number(process.env.dramatiq_dead_message_ttl);
  const deadMessageTtl = positive("deadMessageTtl", options.deadMessageTtl ?? (envTtl > 0 ? envTtl : DEFAULT_DEAD_MESSAGE_TTL));

  return {
    url: url.toString(),
    redactedUrl: redactUrl(url.toString()),
    socketOptions,
    maxPriority,
    deadMessageTtl: Math.round(deadMessageTtl),
    connectTimeout: positive("connectTimeout", options.connectTimeout ?? RABBITMQ_DEFAULTS.connectTimeout),
    minReconnectDelay: positive("minReconnectDelay", options.minReconnectDelay ?? RABBITMQ_DEFAULTS.minReconnectDelay),
    maxReconnectDelay: positive("maxReconnectDelay", options.maxReconnectDelay ?? RABBITMQ_DEFAULTS.maxReconnectDelay),
    delayQueuePrefetch: positive("delayQueuePrefetch", options.delayQueuePrefetch ?? RABBITMQ_DEFAULTS.delayQueuePrefetch),
  };
}

/** Connector settings for one named connection (its name shows in RabbitMQ's connection list). */
export function connectorSettings(settings: RabbitmqSettings, name: string): ConnectorSettings {
  return {
    url: settings.url,
    socketOptions: { ...settings.socketOptions, clientProperties: { connection_name: `dramats ${name} pid=${process.pid}` } } as ConnectorSettings["socketOptions"],
    minReconnectDelay: settings.minReconnectDelay,
    maxReconnectDelay: settings.maxReconnectDelay,
    connectTimeout: settings.connectTimeout,
  };
}

function positive(name: string, value: number): number {
  if (typeof value !== "number" || !Number.isFinite(value) || value <= 0) {
    throw new RangeError(`RabbitmqBroker option ${name} must be a positive number, got ${value}`);
  }
  return value;
}

function nonNegative(name: string, value: number): number {
  if (typeof value !== "number" || !Number.isFinite(value) || value < 0) {
    throw new RangeError(`RabbitmqBroker option ${name} must be a non-negative number, got ${value}`);
  }
  return value;
}
