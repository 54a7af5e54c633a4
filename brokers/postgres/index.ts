import pg from "pg";
import { ACK_FLUSH_COUNT } from "../../lib/ack-flush.ts";
import { Broker, type BrokerAddress, type ConsumeOptions, type DeadLetter, type MessageWrite, type OnceClaim, type QueueDepths, type QueueLook, type WriteOptions } from "../../lib/broker.ts";
import { ConnectionClosed, MessageTooLarge } from "../../lib/errors.ts";
import type { Message } from "../../lib/message.ts";
import type { QueueBrowser } from "../../lib/queue-browser.ts";
import { addUrlSecret } from "../../lib/redact.ts";
import { withDefaultChain } from "../../middleware/defaults.ts";
import { Batch } from "./batch.ts";
import { PostgresConsumer, type ConsumerHost } from "./consumer.ts";
import { isConnectionLoss, NotInTransaction, translatePgError } from "./errors.ts";
import { PostgresHistoryStore } from "./history-store.ts";
import { InspectQueries, TRIM_CHUNK, type DeadRow } from "./inspect.ts";
import { Listener, type ListenerState } from "./listener.ts";
import { migrate, type MigrationReport } from "./migrations.ts";
import { resolveSettings, type PostgresBrokerOptions, type PostgresSettings } from "./options.ts";
import { MessageQueries, type NewMessage, type Run } from "./queries.ts";
import { PostgresQueueBrowser } from "./queue-browser.ts";
import { PostgresKeyValueStore } from "./store.ts";
import { PostgresWorkerRegistry } from "./worker-registry.ts";
import { assertSqlClient, type SqlClient, type TransactionalBroker } from "../../lib/transactional.ts";
import { scopedThrough, through, withScope, type Through } from "./transaction.ts";

export type { PostgresBrokerOptions, PostgresSettings } from "./options.ts";
export { POSTGRES_DEFAULTS, parsePostgresUrl, type ParsedPostgresUrl } from "./options.ts";
export type { ListenerState } from "./listener.ts";
export type { Run, RunResult } from "./queries.ts";
export { PostgresConsumer, type PostgresDelivery } from "./consumer.ts";
export { PostgresKeyValueStore } from "./store.ts";
export { PostgresWorkerRegistry } from "./worker-registry.ts";
export { PostgresHistoryStore } from "./history-store.ts";
export { NotInTransaction, SchemaVersionTooNew } from "./errors.ts";
export * from "./backends.ts";
export { MIGRATIONS, SCHEMA_VERSION, type AppliedMigration, type Migration, type MigrationReport } from "./migrations.ts";

/** How often expired dead letters are deleted, at most (ms). */
const TRIM_INTERVAL = 60_000;

/**
 * A broker in PostgreSQL (node-postgres): many processes on many hosts share one schema.
 *
 * At-least-once with leases: a fetch leases due messages with `FOR UPDATE SKIP LOCKED`, in
 * (priority, eta, id) order; each process extends all its leases in one statement on a timer,
 * so a message is redelivered only when its worker died or stalled (after `leaseTime`) or gave
 * it back. Acked messages are deleted; dead letters, with reason and traceback, live in their
 * own table for the dead-message TTL. Idle consumers send nothing: LISTEN/NOTIFY wakes them on
 * enqueue, a timer on the next eta. The schema is created and migrated on first use. See
 * `brokers/postgres/README.md`.
 */
export class PostgresBroker extends Broker implements TransactionalBroker {
  /** The resolved settings (defaults applied). */
  readonly settings: PostgresSettings;
  /** The pool statements run on (the application's, when given). */
  readonly pool: pg.Pool;
  readonly #ownPool: boolean;
  readonly #where: string;
  readonly #queries: MessageQueries;
  readonly #inspect: InspectQueries;
  readonly #listener: Listener;
  readonly #consumers = new Set<PostgresConsumer>();
  readonly #host: ConsumerHost;
  readonly #inserts: Batch<NewMessage>;
  readonly #acks: Batch<string>;
  readonly #heartbeat: NodeJS.Timeout;
  readonly #run: Run;
  readonly #url: string | undefined;
  #migrated: Promise<MigrationReport> | undefined;
  #beating = false;
  #lastTrim = 0;
  #closed = false;

  constructor(options: PostgresBrokerOptions) {
    super(withDefaultChain(options));
    this.settings = resolveSettings(options);
    // Masked wherever it might appear in a log line or an error, as for URLs given to connect().
    if (options.url !== undefined) addUrlSecret(options.url);
    this.#url = options.pool === undefined ? options.url : undefined;
    this.#where = this.settings.safeUrl ?? "the given pool";
    this.#ownPool = options.pool === undefined;
    this.pool = options.pool ?? new pg.Pool({ ...this.settings.connection, max: this.settings.poolSize });
    // An idle connection the server ended (a restart, pg_terminate_backend): the pool drops it.
    if (this.#ownPool) this.pool.on("error", (error) => this.logger.warn({ err: translatePgError(error, this.#where, false) }, "A pooled PostgreSQL connection failed; the pool replaces it"));
    this.#queries = new MessageQueries(this.settings.schema);
    this.#inspect = new InspectQueries(this.settings.schema);
    this.#listener = new Listener(this.settings.connection, this.settings.schema, this.logger);
    const prepare = this.settings.preparedStatements;
    this.#run = async (text, values, name) => {
      if (this.#closed) throw new ConnectionClosed(`PostgresBroker (${this.#where}) is closed`);
      await this.migrate();
      try {
        if (prepare && name !== undefined) return await this.pool.query({ name, text, values: values as unknown[] | undefined });
        return await this.pool.query(text, values as unknown[] | undefined);
      } catch (error) {
        throw translatePgError(error, this.#where, this.#closed);
      }
    };
    this.#inserts = new Batch(async (rows) => {
      await this.#queries.insert(this.#run, rows);
      for (const queue of new Set(rows.map((row) => row.queue))) this.#listener.announce(queue);
    }, "microtask");
    // At most ACK_FLUSH_COUNT finished messages wait for their ack: what a crash reruns.
    this.#acks = new Batch((ids) => this.#queries.ack(this.#run, ids), "immediate", ACK_FLUSH_COUNT);
    this.#host = {
      logger: this.logger,
      leaseTime: this.settings.leaseTime,
      listener: this.#listener,
      queries: this.#queries,
      run: this.#run,
      newMessage: (message, delay) => this.#newMessage(message, this.encode(message), delay),
      ack: (id) => this.#acks.add(id),
      deadLettered: (queueName, deadId, error) => {
        this.rememberDeadLetter(queueName, deadId, error);
        this.#maybeTrim();
      },
      consumerClosed: (consumer) => void this.#consumers.delete(consumer),
    };
    this.#heartbeat = setInterval(() => this.#beat(), this.settings.heartbeatInterval);
    this.#heartbeat.unref();
  }

  /**
   * Creates or migrates the schema when needed (once per broker; other processes booting at
   * once wait on an advisory lock). Every operation calls it first; call it yourself to fail
   * early. A failure is retried by the next operation.
   * @throws SchemaVersionTooNew; ConnectionFailed when the server cannot be reached
   */
  migrate(): Promise<MigrationReport> {
    this.#migrated ??= this.#migrate().catch((error: unknown) => {
      this.#migrated = undefined;
      throw error;
    });
    return this.#migrated;
  }

  async #migrate(): Promise<MigrationReport> {
    if (this.#closed) throw new ConnectionClosed(`PostgresBroker (${this.#where}) is closed`);
    let client: pg.PoolClient;
    try {
      client = await this.pool.connect();
    } catch (error) {
      throw translatePgError(error, this.#where, this.#closed);
    }
    try {
      const report = await migrate(client, this.settings.schema);
      if (report.applied.length > 0) this.logger.info({ schema: report.schema, from: report.from, to: report.to }, "Migrated the dramats schema");
      return report;
    } catch (error) {
      throw translatePgError(error, this.#where, this.#closed);
    } finally {
      client.release();
    }
  }

  // ---- writing ----------------------------------------------------------------------------

  #newMessage(message: Message, body: string, delay: number, priority = this.priorityOf(message)): NewMessage {
    return { queue: message.queueName, body, messageId: message.messageId, priority, delay: Math.max(0, Math.round(delay)) };
  }

  protected async writeMessage(message: Message, body: string, options: WriteOptions): Promise<void> {
    if (this.#closed) throw new ConnectionClosed(`PostgresBroker (${this.#where}) is closed`);
    const row = this.#newMessage(message, body, options.delay, options.priority);
    const to = scopedThrough(this);
    if (to !== undefined) return this.#writeThrough(to, [row]);
    await this.#inserts.add(row);
  }

  protected override async writeMessages(writes: readonly MessageWrite[]): Promise<void> {
    const rows = writes.map((w) => this.#newMessage(w.message, w.body, w.options.delay, w.options.priority));
    const to = scopedThrough(this);
    if (to !== undefined) return this.#writeThrough(to, rows);
    await this.#queries.insert(this.#run, rows);
    for (const queue of new Set(rows.map((row) => row.queue))) this.#listener.announce(queue);
  }

  /** One statement on the application's client, in its transaction: no batching, and no local wake-up before the commit's NOTIFY. */
  async #writeThrough(to: Through, rows: NewMessage[]): Promise<void> {
    if (this.#closed) throw new ConnectionClosed(`PostgresBroker (${this.#where}) is closed`);
    await this.migrate();
    if (to.idle()) throw new NotInTransaction();
    await this.#queries.insert(to.run, rows);
  }

  /**
   * Runs `fn`; every message this broker enqueues from it (and from what it awaits) is written
   * through `client` inside the transaction open on it, the enqueue hooks running as for any
   * send: the messages exist once that transaction commits (consumers are woken then), never if
   * it rolls back. `fn` runs inside the caller's transaction: the caller commits or rolls back.
   * @throws InvalidOptions for a client without `query`; NotInTransaction (from the sends) when
   *   no transaction is open on it
   */
  withTransaction<T>(client: SqlClient, fn: () => T | Promise<T>): Promise<T> {
    try {
      assertSqlClient(client, "PostgresBroker.withTransaction");
    } catch (error) {
      return Promise.reject(error);
    }
    return withScope(this, through(client, (error) => translatePgError(error, this.#where, false), this.settings.preparedStatements), fn);
  }

  /** The claim in the `kv` table and the message rows in one statement (in the application's transaction inside `withTransaction`). */
  protected override async writeMessagesOnce(claim: Required<OnceClaim>, writes: readonly MessageWrite[]): Promise<boolean> {
    const rows = writes.map((w) => this.#newMessage(w.message, w.body, w.options.delay, w.options.priority));
    const to = scopedThrough(this);
    if (to !== undefined) {
      await this.migrate();
      if (to.idle()) throw new NotInTransaction();
    }
    const claimed = await this.#queries.insertOnce(to?.run ?? this.#run, claim.key, claim.value, claim.ttl, rows);
    if (claimed) for (const queue of new Set(rows.map((row) => row.queue))) this.#listener.announce(queue);
    return claimed;
  }

  /**
   * Puts raw bytes on a queue (`delay` ms later), bypassing encoding and middleware, as a
   * foreign or broken producer would. For tests and tools.
   * @throws MessageTooLarge past the encoder's size limit
   */
  async enqueueRaw(queueName: string, body: string, options: { delay?: number; priority?: number } = {}): Promise<void> {
    this.assertDeclared(queueName);
    let messageId: string | null = null;
    try {
      messageId = this.decode(body).messageId;
    } catch (error) {
      if (error instanceof MessageTooLarge) throw error;
      // Undecodable: listed and dead-lettered under its row id.
    }
    await this.#inserts.add({ queue: queueName, body, messageId, priority: options.priority ?? 0, delay: Math.max(0, Math.round(options.delay ?? 0)) });
  }

  // ---- consuming --------------------------------------------------------------------------

  consume(queueName: string, _options: ConsumeOptions): PostgresConsumer {
    this.assertDeclared(queueName);
    if (this.#closed) throw new ConnectionClosed(`PostgresBroker (${this.#where}) is closed`);
    const consumer = new PostgresConsumer(this.#host, queueName);
    this.#consumers.add(consumer);
    this.consumerOpened(consumer);
    // Listen from now on, so the first fetch hears what is enqueued while it looks.
    this.#listener.ready().catch(() => undefined);
    return consumer;
  }

  /** Extends the leases of every consumer of this process that holds some, in one statement. */
  #beat(): void {
    if (this.#closed || this.#beating) return;
    const holding = [...this.#consumers].filter((c) => c.holding);
    if (holding.length === 0) return;
    this.#beating = true;
    this.#queries
      .heartbeat(this.#run, holding.flatMap((c) => [...c.heldIds]), holding.map((c) => c.owner), this.settings.leaseTime)
      .catch((error: unknown) => {
        if (!this.#closed) this.logger.error({ err: error }, "Could not extend message leases; retrying at the next heartbeat");
      })
      .finally(() => (this.#beating = false));
  }

  /** The URL (password included: the supervisor's IPC), without middleware; none for a pool of the application's. */
  override recoveryAddress(): BrokerAddress | undefined {
    if (this.#url === undefined) return undefined;
    return { scheme: "postgres:", options: { url: this.#url, schema: this.settings.schema, leaseTime: this.settings.leaseTime } };
  }

  /** Makes what the dead consumer `id` (its lease owner) held ready again at once, in one statement. */
  override async recoverConsumer(id: string): Promise<number> {
    return this.#queries.recover(this.#run, id);
  }

  // ---- inspection -------------------------------------------------------------------------

  /** Counts for every process sharing the schema. An expired lease or a due delay counts as ready. */
  async depths(queueName: string): Promise<QueueDepths> {
    this.assertDeclared(queueName);
    return this.#inspect.depths(this.#run, queueName, this.settings.deadMessageTtl);
  }

  /** The smallest eta (enqueue or end of delay, server clock) of the rows `depths` counts ready. */
  override async oldestReadyAt(queueName: string): Promise<number | undefined> {
    this.assertDeclared(queueName);
    return this.#inspect.oldestReady(this.#run, queueName);
  }

  /** Dead letters are numbered in the order they are written: the cursor is the queue's last. */
  protected deadLetterCursor(queueName: string): Promise<number> {
    return this.#inspect.lastDeadId(this.#run, queueName);
  }

  /** Idle when no ready, delayed or leased row of the queue is left; one snapshot for both looks. */
  protected async lookAtQueue(queueName: string, after: number, deadLetters: boolean): Promise<QueueLook<number>> {
    try {
      return await this.#inspect.look(this.#run, queueName, after, deadLetters);
    } catch (error) {
      // A pooled connection the server ended fails the statement given it before the pool knows: a look only reads, so it looks again.
      if (this.#closed || !isConnectionLoss((error as { cause?: unknown }).cause)) throw error;
      return this.#inspect.look(this.#run, queueName, after, deadLetters);
    }
  }

  /** Deletes the queue's messages (ready, delayed and leased) and its dead letters, for every process. */
  protected async flushQueue(queueName: string): Promise<void> {
    await this.#inspect.flush(this.#run, queueName);
  }

  /** The queue's dead letters younger than the dead-message TTL, oldest first. */
  async deadLetters(queueName: string, limit = Infinity): Promise<DeadLetter[]> {
    this.assertDeclared(queueName);
    const rows = await this.#inspect.deadLetters(this.#run, queueName, this.settings.deadMessageTtl, limit);
    return rows.map((row) => ({ id: row.message_id, body: row.body, reason: row.reason, deadAt: Number(row.dead_at) }));
  }

  /** Moves dead letters back to the queue in one transaction: every process sees all or none of the move. */
  async requeueDeadLetters(queueName: string, ids?: readonly string[]): Promise<number> {
    this.assertDeclared(queueName);
    await this.migrate();
    const revive = (row: DeadRow): NewMessage => {
      const message = this.reviveDeadLetter(row.body);
      if (message === undefined) return { queue: queueName, body: row.body, messageId: null, priority: 0, delay: 0 };
      return this.#newMessage(message, this.encode(message), 0);
    };
    let client: pg.PoolClient;
    try {
      client = await this.pool.connect();
    } catch (error) {
      throw translatePgError(error, this.#where, this.#closed);
    }
    const run: Run = (text, values) => client.query(text, values as unknown[] | undefined);
    try {
      await run("BEGIN");
      const moved = await this.#inspect.requeueDead(run, queueName, ids, this.settings.deadMessageTtl, revive, (rows) => this.#queries.insert(run, rows));
      await run("COMMIT");
      if (moved > 0) this.#listener.announce(queueName);
      return moved;
    } catch (error) {
      await run("ROLLBACK").catch(() => {});
      throw translatePgError(error, this.#where, this.#closed);
    } finally {
      client.release();
    }
  }

  /** Deletes expired dead letters, at most once a minute, in the background. */
  #maybeTrim(): void {
    const now = Date.now();
    if (now - this.#lastTrim < TRIM_INTERVAL) return;
    this.#lastTrim = now;
    this.#inspect.trimDead(this.#run, this.settings.deadMessageTtl).then(
      (trimmed) => {
        if (trimmed === TRIM_CHUNK) this.#lastTrim = 0;
        if (trimmed > 0) this.logger.info({ count: trimmed }, "Deleted dead letters older than the dead-message TTL");
      },
      (error: unknown) => {
        if (!(error instanceof ConnectionClosed)) this.logger.warn({ err: error }, "Could not delete expired dead letters");
      },
    );
  }

  #store: PostgresKeyValueStore | undefined;
  /** The `kv` table: atomic claims for cron schedules and `enqueueOnce`, across processes. */
  override get store(): PostgresKeyValueStore {
    return (this.#store ??= new PostgresKeyValueStore(this.settings.schema, this.#run, this.#listener));
  }

  #workerRegistry: PostgresWorkerRegistry | undefined;
  /** Worker records in the `workers` table (`dramats workers`; lib/worker-registry.ts). */
  get workerRegistry(): PostgresWorkerRegistry {
    return (this.#workerRegistry ??= new PostgresWorkerRegistry(this.settings.schema, this.#run));
  }

  #queueBrowser: QueueBrowser | undefined;
  /** Reads the queues in place, for the dashboard (lib/queue-browser.ts). */
  get queueBrowser(): QueueBrowser {
    return (this.#queueBrowser ??= new PostgresQueueBrowser(this.settings.schema, this.#run, this.settings.deadMessageTtl));
  }

  #historyStore: PostgresHistoryStore | undefined;
  /** Per-minute fleet history in the `history` table (the dashboard's charts; lib/history-store.ts). */
  get historyStore(): PostgresHistoryStore {
    return (this.#historyStore ??= new PostgresHistoryStore(this.settings.schema, this.#run));
  }

  /** For specs: the LISTEN connection (its backend pid, how many times it connected). */
  get listener(): ListenerState {
    return this.#listener;
  }

  /** Writes what is batched, gives back what open consumers hold, stops listening and ends its own pool. Idempotent. */
  protected async closeConnections(): Promise<void> {
    if (this.#closed) return;
    clearInterval(this.#heartbeat);
    await this.#inserts.drain().catch(() => {});
    await this.#acks.drain().catch(() => {});
    for (const consumer of [...this.#consumers]) await consumer.close().catch((error: unknown) => {
      this.logger.warn({ err: error, queue: consumer.queueName }, "Could not give back a consumer's messages; their leases will expire");
    });
    this.#closed = true;
    await this.#listener.close();
    await this.#migrated?.catch(() => {});
    if (this.#ownPool) await this.pool.end().catch(() => {});
  }
}
