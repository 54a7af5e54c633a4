import type { ChannelModel, Options } from "amqplib";
import type { Socket } from "node:net";
import type { ConnectionOptions as TlsOptions } from "node:tls";
import { isCredentialsRefused } from "../../lib/credentials-refused.ts";
import { ConnectionClosed, ConnectionFailed, QueueArgumentsMismatch } from "../../lib/errors.ts";
import { explainOpenError } from "./open-errors.ts";
import type { Logger } from "../../lib/logging.ts";
import { connectWithSocket, WriteBatcher } from "./write-batching.ts";

/** How a connector reaches the server and backs off between attempts. */
export interface ConnectorSettings {
  readonly url: string;
  /** Socket and TLS options handed to amqplib (credentials, `ca`, `cert`, `servername`...). */
  readonly socketOptions: Record<string, unknown> & Partial<TlsOptions>;
  /** First reconnect delay (ms); doubles per failed attempt, with ±20 % jitter. */
  readonly minReconnectDelay: number;
  /** Longest reconnect delay (ms). */
  readonly maxReconnectDelay: number;
  /** How long an operation waits for a connection before failing (ms). */
  readonly connectTimeout: number;
}

/**
 * One AMQP connection that reconnects itself with exponential backoff whenever it drops
 * (server restart, `rabbitmqctl close_all_connections`, missed heartbeats) or is reset after a
 * channel error. `setup` runs on every new connection before anyone is handed it; a failing
 * setup counts as a failed attempt. Written by hand rather than with amqplib's `recovery`
 * because channels and consumers need recreating anyway and we want to know, per delivery,
 * which connection it came from.
 */
export class Connector {
  readonly name: string;
  /** Bumped on every new connection; deliveries remember the generation they came from. */
  generation = 0;
  readonly #settings: ConnectorSettings;
  readonly #setup: (model: ChannelModel) => Promise<void>;
  readonly #log: Logger;
  #model: ChannelModel | undefined;
  /** The open connection's TCP socket (none over TLS), and its write batcher. */
  #socket: Socket | undefined;
  #batcher: WriteBatcher | undefined;
  /** The connection being set up, and whether someone asked for a reset meanwhile. */
  #connecting: ChannelModel | undefined;
  #resetWhileConnecting = false;
  #running: Promise<void> | undefined;
  #closed = false;
  #lastError: unknown;
  #everConnected = false;
  #waiters = new Set<() => void>();
  #wakeBackoff: (() => void) | undefined;

  constructor(name: string, settings: ConnectorSettings, setup: (model: ChannelModel) => Promise<void>, logger: Logger) {
    this.name = name;
    this.#settings = settings;
    this.#setup = setup;
    this.#log = logger;
  }

  /** The open connection's TCP socket (none over TLS, or while disconnected). */
  get socket(): Socket | undefined {
    return this.#socket;
  }

  /** The open connection, if any. */
  get model(): ChannelModel | undefined {
    return this.#model;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Starts connecting in the background (idempotent). */
  start(): void {
    if (this.#closed || this.#model || this.#running) return;
    this.#running = this.#loop().finally(() => (this.#running = undefined));
  }

  /**
   * Resolves with the open connection, connecting first if needed.
   * @throws ConnectionFailed when none could be made within `connectTimeout`; ConnectionClosed once closed.
   */
  async ready(timeout = this.#settings.connectTimeout): Promise<ChannelModel> {
    if (this.#model) return this.#model;
    if (this.#closed) throw new ConnectionClosed(`${this.name}: the connection is closed`);
    this.start();
    await new Promise<void>((resolve) => {
      const timer = setTimeout(done, timeout);
      const waiters = this.#waiters;
      function done() {
        clearTimeout(timer);
        waiters.delete(done);
        resolve();
      }
      waiters.add(done);
    });
    if (this.#model) return this.#model;
    if (this.#closed) throw new ConnectionClosed(`${this.name}: the connection is closed`);
    const cause = this.#lastError;
    if (isCredentialsRefused(cause)) throw new ConnectionFailed(`${this.name}: RabbitMQ refused the credentials: ${(cause as Error).message}`, { cause });
    const why = cause instanceof Error ? `: ${cause.message}` : "";
    throw new ConnectionFailed(`${this.name}: no connection to RabbitMQ within ${timeout} ms${why}`, { cause });
  }

  async #loop(): Promise<void> {
    for (let attempt = 1; !this.#closed; attempt++) {
      let model: ChannelModel | undefined;
      try {
        this.#resetWhileConnecting = false;
        const opened = await connectWithSocket(this.#settings.url, this.#settings.socketOptions as Options.Connect);
        model = opened.model;
        const batcher = opened.socket && new WriteBatcher(opened.socket);
        this.#connecting = model;
        model.on("error", (error: Error) => this.#log.warn({ err: error, connection: this.name }, "RabbitMQ connection error"));
        model.on("blocked", (reason: string) => this.#log.warn({ connection: this.name, reason }, "RabbitMQ blocked the connection"));
        model.on("close", () => this.#onClose(model!));
        if (this.#closed) throw new ConnectionClosed("closed while connecting");
        await this.#setup(model);
        if (this.#closed) throw new ConnectionClosed("closed while connecting");
        // A channel set up here may already have failed (setup hands out deliveries early).
        if (this.#resetWhileConnecting) throw new ConnectionClosed("reset while setting up the connection");
        this.#connecting = undefined;
        this.generation++;
        this.#model = model;
        this.#socket = opened.socket;
        this.#batcher = batcher;
        if (this.#everConnected) this.#log.info({ connection: this.name, attempt }, "Reconnected to RabbitMQ");
        this.#everConnected = true;
        this.#lastError = undefined;
        this.#notify();
        return;
      } catch (thrown) {
        const error = explainOpenError(thrown, this.#settings.url);
        this.#connecting = undefined;
        this.#lastError = error;
        model?.removeAllListeners("close");
        model?.close().catch(() => {});
        if (this.#closed) break;
        // Refused credentials will not get better by waiting out `connectTimeout`: callers hear it
        // now (the loop keeps trying, for when someone fixes the broker's users).
        if (isCredentialsRefused(error)) this.#notify();
        const delay = this.#backoff(attempt);
        // A queue declared elsewhere with other arguments: connected, but the setup's declaration was refused.
        const what = error instanceof QueueArgumentsMismatch ? "RabbitMQ refused a queue declaration (its arguments differ)" : "Connecting to RabbitMQ failed";
        this.#log.error({ err: error, connection: this.name, attempt, retryInMs: Math.round(delay) }, `${what}; retrying`);
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, delay);
          this.#wakeBackoff = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        this.#wakeBackoff = undefined;
      }
    }
    this.#notify();
  }

  #backoff(attempt: number): number {
    const { minReconnectDelay, maxReconnectDelay } = this.#settings;
    const base = Math.min(minReconnectDelay * 2 ** (attempt - 1), maxReconnectDelay);
    return base * (0.8 + Math.random() * 0.4);
  }

  /** Gathers the frames just handed to amqplib with the rest of this turn's into one socket write. */
  batchWrites(): void {
    this.#batcher?.batch();
  }

  #onClose(model: ChannelModel): void {
    if (this.#model !== model) return;
    this.#model = undefined;
    this.#socket = undefined;
    this.#batcher = undefined;
    if (this.#closed) return;
    this.#log.warn({ connection: this.name }, "Lost the RabbitMQ connection; reconnecting");
    this.start();
  }

  #notify(): void {
    const waiters = [...this.#waiters];
    this.#waiters.clear();
    for (const wake of waiters) wake();
  }

  /** Drops the current connection (after a channel error, say) and connects again. */
  reset(): void {
    if (this.#closed) return;
    if (this.#connecting) this.#resetWhileConnecting = true;
    const model = this.#model;
    if (model === undefined) return;
    // The close event reconnects; closing may fail if the socket is already gone, which is fine.
    model.close().catch(() => this.#onClose(model));
  }

  /** Closes for good: no reconnection afterwards. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#wakeBackoff?.();
    const model = this.#model;
    this.#model = undefined;
    this.#notify();
    if (model) await model.close().catch(() => {});
    await this.#running;
  }

  /**
   * Destroys the socket without the closing handshake, as a killed process would, and never
   * reconnects. RabbitMQ requeues the unacknowledged deliveries once it notices. For fault tests.
   */
  destroy(): void {
    this.#closed = true;
    this.#wakeBackoff?.();
    this.dropSocket(new Error("connection destroyed (simulated crash)"));
    this.#model = undefined;
    this.#notify();
  }

  /**
   * Destroys the socket without the closing handshake, as a network failure would; the
   * connection then reconnects unless closed. Over TLS, where the socket is not at hand, the
   * connection is closed instead. For fault specs.
   */
  dropSocket(error: Error): void {
    if (this.#socket !== undefined) this.#socket.destroy(error);
    else this.#model?.close().catch(() => {});
  }
}
