import type { Statement } from "better-sqlite3";
import { ACK_FLUSH_COUNT } from "../../lib/ack-flush.ts";
import { Broker, type BrokerAddress, type ConsumeOptions, type DeadLetter, type MessageWrite, type OnceClaim, type QueueDepths, type QueueLook, type WriteOptions } from "../../lib/broker.ts";
import { BrokerError, ConnectionClosed, ConnectionError, MessageTooLarge } from "../../lib/errors.ts";
import type { Message } from "../../lib/message.ts";
import { ChangeFeed } from "./change-feed.ts";
import { SqliteConsumer, type ConsumerHost } from "./consumer.ts";
import { resolveSettings, type SqliteBrokerOptions, type SqliteSettings } from "./options.ts";
import { openDatabase, type Db } from "./schema.ts";
import { retryWhileBusy, retryWhileBusySync } from "./busy.ts";
import { CHUNK, Statements, type DeadRow, type NewMessage } from "./statements.ts";
import { SqliteKeyValueStore } from "./store.ts";
import { SqliteWorkerRegistry } from "./worker-registry.ts";
import { SqliteQueueBrowser } from "./queue-browser.ts";
import type { QueueBrowser } from "../../lib/queue-browser.ts";
import { SqliteHistoryStore } from "./history-store.ts";
import { WriteBatch } from "./write-batch.ts";
import { withDefaultChain } from "../../middleware/defaults.ts";

export type { SqliteBrokerOptions, SqliteSettings } from "./options.ts";
export { SQLITE_DEFAULTS, pathFromUrl } from "./options.ts";
export { SqliteConsumer, type SqliteDelivery } from "./consumer.ts";
export { SqliteKeyValueStore } from "./store.ts";
export { SqliteWorkerRegistry } from "./worker-registry.ts";
export { SqliteHistoryStore } from "./history-store.ts";
export { SqliteCancellationBackend, type SqliteCancellationBackendOptions } from "./cancellation-backend.ts";
export { SqliteRateLimiterBackend, type SqliteRateLimiterBackendOptions } from "./rate-limiter-backend.ts";
export type { SqliteBackendOptions, SqliteBrokerLike } from "./side-connection.ts";

/** Shortest gap between two looks of a join: a busy queue announces every ack (ms). */
const JOIN_MIN_GAP = 5;
/** How often expired dead letters are deleted, at most (ms). */
const TRIM_INTERVAL = 60_000;

/**
 * A broker in one SQLite file (better-sqlite3, WAL mode): nothing to install or run, durable,
 * and shared safely by the app and several worker processes on the same machine.
 *
 * At-least-once with leases: a fetched message stays in the table, invisible to other workers
 * while its consumer's lease lasts; the consumer extends its leases on a timer, so a message
 * is redelivered only when its worker died (after `leaseTime`) or gave it back. Delays and
 * priorities live in the same indexed table; dead letters, with their reasons, in another; the
 * key-value store (cron claims) in a third. See `brokers/sqlite/README.md`.
 */
export class SqliteBroker extends Broker {
  /** The resolved settings (defaults applied). */
  readonly settings: SqliteSettings;
  readonly #db: Db;
  readonly #statements: Statements;
  readonly #feed: ChangeFeed;
  readonly #store: SqliteKeyValueStore;
  readonly #consumers = new Set<SqliteConsumer>();
  readonly #host: ConsumerHost;
  readonly #inserts: WriteBatch<NewMessage>;
  readonly #acks: WriteBatch<number>;
  #lastTrim = 0;
  #closed = false;

  constructor(options: SqliteBrokerOptions = {}) {
    super(withDefaultChain(options));
    this.settings = resolveSettings(options);
    this.#db = openDatabase(this.settings);
    this.#statements = new Statements(this.#db);
    const dataVersion = this.#db.prepare("PRAGMA data_version").pluck() as Statement<[], number>;
    this.#feed = new ChangeFeed(
      this.settings.path,
      () => {
        this.#assertOpen();
        return dataVersion.get()!;
      },
      this.settings.minPollInterval,
      this.settings.maxPollInterval,
      this.settings.watch ? `${this.settings.path}-wal` : undefined,
    );
    this.#inserts = new WriteBatch(async (rows) => {
      await this.#run(() => this.#statements.insertMany(rows, Date.now()));
      for (const queue of new Set(rows.map((row) => row.queue))) this.#feed.announce(queue);
    }, "microtask");
    // At most ACK_FLUSH_COUNT finished messages wait for their ack: what a crash reruns.
    this.#acks = new WriteBatch((ids) => this.#run(() => this.#statements.ackMany(ids)), "immediate", ACK_FLUSH_COUNT);
    this.#store = new SqliteKeyValueStore(this.#db, (operation) => this.#run(operation));
    this.#host = {
      logger: this.logger,
      leaseTime: this.settings.leaseTime,
      leaseRenewInterval: this.settings.leaseRenewInterval,
      feed: this.#feed,
      run: (operation) => this.#run(() => operation(this.#statements)),
      runNow: (operation) => {
        this.#assertOpen();
        return operation(this.#statements);
      },
      translate: (error) => this.#translate(error),
      busyTimeout: this.settings.busyTimeout,
      newMessage: (message, delay) => this.#newMessage(message, this.encode(message), delay),
      ack: (id) => this.#acks.add(id),
      deadLettered: (queueName, deadId, error) => {
        this.rememberDeadLetter(queueName, String(deadId), error);
        // Called inside the nack's database step: the trim is a step of its own.
        queueMicrotask(() => this.#maybeTrim());
      },
      consumerClosed: (consumer) => void this.#consumers.delete(consumer),
    };
    this.#maybeTrim();
  }

  #assertOpen(): void {
    if (this.#closed) throw new ConnectionClosed(`SqliteBroker (${this.settings.path}) is closed`);
  }

  /**
   * Runs a (synchronous, all-or-nothing) database operation, again while another process holds
   * the write lock, without blocking the event loop; refuses once closed; gives errors dramats types.
   */
  async #run<T>(operation: () => T): Promise<T> {
    try {
      return await retryWhileBusy(() => {
        this.#assertOpen();
        return operation();
      }, this.settings.busyTimeout);
    } catch (error) {
      throw this.#translate(error);
    }
  }

  /** `#run` for the few places that cannot wait (see retryWhileBusySync). */
  #runSync<T>(operation: () => T): T {
    try {
      return retryWhileBusySync(() => {
        this.#assertOpen();
        return operation();
      }, this.settings.busyTimeout);
    } catch (error) {
      throw this.#translate(error);
    }
  }

  #translate(error: unknown): unknown {
    const code = (error as { code?: unknown }).code;
    if (typeof code !== "string" || !code.startsWith("SQLITE_")) {
      if (error instanceof TypeError && /database connection is not open/.test(error.message)) {
        return new ConnectionClosed(`SqliteBroker (${this.settings.path}) is closed`, { cause: error });
      }
      return error;
    }
    const message = `SQLite ${code} on ${this.settings.path}: ${(error as Error).message}`;
    if (code.startsWith("SQLITE_BUSY")) {
      return new ConnectionError(`${message} (another process held the write lock past busyTimeout = ${this.settings.busyTimeout} ms)`, { cause: error });
    }
    return new BrokerError(message, { cause: error });
  }

  // ---- writing ----------------------------------------------------------------------------

  #newMessage(message: Message, body: string, delay: number, priority = this.priorityOf(message)): NewMessage {
    return { queue: message.queueName, body, messageId: message.messageId, priority, delay: Math.max(0, Math.round(delay)) };
  }

  protected async writeMessage(message: Message, body: string, options: WriteOptions): Promise<void> {
    if (this.#closed) throw new ConnectionClosed(`SqliteBroker (${this.settings.path}) is closed`);
    await this.#inserts.add(this.#newMessage(message, body, options.delay, options.priority));
  }

  /** The claim in `dramats_kv` and the message rows in one transaction. */
  protected override async writeMessagesOnce(claim: Required<OnceClaim>, writes: readonly MessageWrite[]): Promise<boolean> {
    this.#assertOpen();
    const rows = writes.map((w) => this.#newMessage(w.message, w.body, w.options.delay, w.options.priority));
    const claimed = await this.#store.setIfAbsentWith(claim.key, claim.value, claim.ttl, () => this.#statements.insertMany(rows, Date.now()));
    if (claimed) for (const queue of new Set(rows.map((row) => row.queue))) this.#feed.announce(queue);
    return claimed;
  }

  /**
   * Puts raw bytes on a queue (`delay` ms later), bypassing encoding and middleware, as a
   * foreign or broken producer would. For tests and tools.
   * @throws MessageTooLarge past the encoder's size limit: SQLite reads and writes a body
   * synchronously, so a worker handed megabytes would stall its event loop for as long as the
   * disk takes (hundreds of ms for 10 MB) before it could refuse them. Every other body is
   * stored, undecodable ones included (a worker dead-letters those).
   */
  async enqueueRaw(queueName: string, body: string, options: { delay?: number; priority?: number } = {}): Promise<void> {
    this.assertDeclared(queueName);
    let messageId: string | null = null;
    try {
      messageId = this.decode(body).messageId;
    } catch (error) {
      if (error instanceof MessageTooLarge) throw error;
      // Undecodable: its dead letter gets the row id.
    }
    await this.#inserts.add({ queue: queueName, body, messageId, priority: options.priority ?? 0, delay: Math.max(0, Math.round(options.delay ?? 0)) });
  }

  // ---- consuming --------------------------------------------------------------------------

  consume(queueName: string, _options: ConsumeOptions): SqliteConsumer {
    this.assertDeclared(queueName);
    if (this.#closed) throw new ConnectionClosed(`SqliteBroker (${this.settings.path}) is closed`);
    const consumer = new SqliteConsumer(this.#host, queueName);
    this.#consumers.add(consumer);
    this.consumerOpened(consumer);
    return consumer;
  }

  /** The file, by absolute path; without `watch`, so a process that only recovers starts no watcher. */
  override recoveryAddress(): BrokerAddress {
    return { scheme: "sqlite:", options: { path: this.settings.path, watch: false } };
  }

  /**
   * Makes what the dead consumer `id` (its lease owner) held ready again at once, as redelivered
   * messages, in one statement: its leases would otherwise run out after `leaseTime`.
   */
  override async recoverConsumer(id: string): Promise<number> {
    const count = await this.#run(() => this.#statements.recover(id));
    if (count > 0) for (const queue of this.queues) this.#feed.announce(queue);
    return count;
  }

  // ---- inspection -------------------------------------------------------------------------

  /**
   * Counts from the table, for every process sharing the file. An expired lease or a due delay
   * counts as ready: the next fetch takes it.
   */
  async depths(queueName: string): Promise<QueueDepths> {
    this.assertDeclared(queueName);
    const now = Date.now();
    return this.#run(() => this.#statements.depths(queueName, now, now - this.settings.deadMessageTtl));
  }

  /** The smallest eta (enqueue or end of delay) of the rows `depths` counts ready. */
  override async oldestReadyAt(queueName: string): Promise<number | undefined> {
    this.assertDeclared(queueName);
    return this.#run(() => this.#statements.oldestReady(queueName, Date.now()) ?? undefined);
  }

  /** Dead letters are rows numbered in the order they are written: the cursor is the queue's last. */
  protected deadLetterCursor(queueName: string): number {
    return this.#runSync(() => this.#statements.lastDeadId(queueName));
  }

  /** Idle when no ready, delayed or leased row of the queue is left, in any process. */
  protected async lookAtQueue(queueName: string, after: number, deadLetters: boolean): Promise<QueueLook<number>> {
    // Pending first, then dead letters: a nack moves a row to the dead letters in one
    // transaction, so a message gone from the queue is never missed by the later looks.
    const { pending, dead, cursor } = await this.#run(() => ({
      pending: this.#statements.exists(queueName),
      dead: deadLetters ? this.#statements.firstDeadSince(queueName, after) : undefined,
      cursor: this.#statements.lastDeadId(queueName),
    }));
    return { idle: !pending, cursor, dead: dead && { id: String(dead.id), messageId: dead.message_id, reason: dead.reason } };
  }

  /** Wakes a join on the change feed (every process's writes), at most every JOIN_MIN_GAP ms. */
  protected override watchQueue(queueName: string): (timeout: number) => Promise<void> {
    const seen = this.#feed.version();
    const announced = this.#feed.announced;
    return async (timeout) => {
      const checkedAt = Date.now();
      // NaN: the version cannot be read right now; back off and look again.
      if (!Number.isNaN(seen) && this.#feed.announced === announced) await this.#feed.wait(queueName, seen, timeout).promise;
      const gap = Math.min(JOIN_MIN_GAP - (Date.now() - checkedAt), timeout - (Date.now() - checkedAt));
      if (gap > 0) await new Promise((resolve) => setTimeout(resolve, gap));
    };
  }

  /** Deletes the queue's messages (ready, delayed and leased) and its dead letters, for every process. */
  protected async flushQueue(queueName: string): Promise<void> {
    while (!(await this.#run(() => this.#statements.flushChunk(queueName)))) await new Promise((resolve) => setImmediate(resolve));
    this.#feed.announce(queueName);
  }

  /** The queue's dead letters younger than the dead-message TTL, oldest first. */
  async deadLetters(queueName: string, limit = Infinity): Promise<DeadLetter[]> {
    this.assertDeclared(queueName);
    const rows = await this.#run(() => this.#statements.deadLetters(queueName, Date.now() - this.settings.deadMessageTtl, limit));
    return rows.map((row) => ({ id: row.message_id, body: row.body, reason: row.reason, deadAt: row.dead_at }));
  }

  /** Moves dead letters back to the queue in one transaction, so every process sees all or none of the move. */
  async requeueDeadLetters(queueName: string, ids?: readonly string[]): Promise<number> {
    this.assertDeclared(queueName);
    const revive = (row: DeadRow): NewMessage => {
      const message = this.reviveDeadLetter(row.body);
      // Undecodable: back as it was, under no message id (as enqueueRaw stores it).
      if (message === undefined) return { queue: queueName, body: row.body, messageId: null, priority: 0, delay: 0 };
      return this.#newMessage(message, this.encode(message), 0);
    };
    const moved = await this.#run(() => this.#statements.requeueDead(queueName, ids, Date.now() - this.settings.deadMessageTtl, revive, Date.now()));
    if (moved > 0) this.#feed.announce(queueName);
    return moved;
  }

  /** Deletes expired dead letters, at most once a minute, in the background. */
  #maybeTrim(): void {
    const now = Date.now();
    if (now - this.#lastTrim < TRIM_INTERVAL) return;
    this.#lastTrim = now;
    this.#run(() => this.#statements.trimDead(now - this.settings.deadMessageTtl)).then(
      (trimmed) => {
        if (trimmed === CHUNK) this.#lastTrim = 0; // more to do: again at the next dead letter
        if (trimmed > 0) this.logger.info({ count: trimmed }, "Deleted dead letters older than the dead-message TTL");
      },
      (error: unknown) => {
        if (!(error instanceof ConnectionClosed)) this.logger.warn({ err: error }, "Could not delete expired dead letters");
      },
    );
  }

  /** The `dramats_kv` table: atomic claims for cron schedules across processes. */
  override get store(): SqliteKeyValueStore {
    return this.#store;
  }

  #workerRegistry: SqliteWorkerRegistry | undefined;

  /** Worker records in the `dramats_workers` table (`dramats workers`; lib/worker-registry.ts). */
  get workerRegistry(): SqliteWorkerRegistry {
    this.#workerRegistry ??= new SqliteWorkerRegistry(this.#db, (operation) => this.#run(operation));
    return this.#workerRegistry;
  }

  #queueBrowser: QueueBrowser | undefined;

  /** Reads the file's queues in place, for the dashboard (lib/queue-browser.ts). */
  get queueBrowser(): QueueBrowser {
    return (this.#queueBrowser ??= new SqliteQueueBrowser(this.#db, (operation) => this.#run(operation), this.settings.deadMessageTtl));
  }

  #historyStore: SqliteHistoryStore | undefined;
  /** Per-minute fleet history in the `dramats_history` table (the dashboard's charts; lib/history-store.ts). */
  get historyStore(): SqliteHistoryStore {
    return (this.#historyStore ??= new SqliteHistoryStore(this.#db, (operation) => this.#run(operation)));
  }

  /** Gives back what open consumers hold, stops polling and closes the file. Idempotent. */
  protected async closeConnections(): Promise<void> {
    if (this.#closed) return;
    // Commit what is still batched before anything closes.
    await this.#inserts.drain();
    await this.#acks.drain();
    for (const consumer of [...this.#consumers]) await consumer.close().catch((error: unknown) => {
      this.logger.warn({ err: error, queue: consumer.queueName }, "Could not give back a consumer's messages; their leases will expire");
    });
    this.#feed.close();
    this.#closed = true;
    this.#db.close();
  }
}
