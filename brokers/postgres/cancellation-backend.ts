import type { CancellationBackend } from "../../lib/cancellation/backend.ts";
import { getLogger } from "../../lib/logging.ts";
import { NOW_MS } from "./backend-migration.ts";
import { BackendConnection, type PostgresBackendOptions } from "./backend-connection.ts";
import { cancellationChannel, CancellationListener } from "./cancellation-listener.ts";
import { SWEEP_INTERVAL } from "./rate-limiter-backend.ts";

/** Options of {@link PostgresCancellationBackend}: a URL or a pool, and the schema. */
export type PostgresCancellationBackendOptions = PostgresBackendOptions;

/**
 * Longest message id accepted (bytes): it is the table's primary key (a B-tree entry holds at
 * most about 2700 bytes) and travels in a notification (at most 8000). Message ids are UUIDs.
 */
export const MAX_MESSAGE_ID_BYTES = 2_000;

type Listener = (messageId: string, expiresAt: number) => void;

/**
 * Cancellations in PostgreSQL: the `cancellations` table of the schema (created on first use),
 * one row per cancelled message id with its expiry (server clock) and a sequence number that
 * grows with every cancellation. `cancel` writes the row and, in the same statement, a
 * `NOTIFY` on the schema's channel carrying it; subscribers hear it through one LISTEN session
 * per instance (a client of the pool kept for it), which reconnects after a drop and re-reads
 * the rows past the last it saw. Expired rows are deleted by later cancellations (at most once
 * a minute per instance) and never listed.
 */
export class PostgresCancellationBackend implements CancellationBackend {
  readonly #connection: BackendConnection;
  readonly #listeners = new Set<Listener>();
  #listener: CancellationListener | undefined;
  #starting: Promise<CancellationListener> | undefined;
  #lastSweep = 0;

  /** @throws InvalidOptions unless exactly one of `url` and `pool` is given, or for a bad URL or schema name */
  constructor(options: PostgresCancellationBackendOptions) {
    this.#connection = new BackendConnection(options, "PostgresCancellationBackend");
  }

  /** The schema holding the table. */
  get schema(): string {
    return this.#connection.schema;
  }

  /** True while this instance's LISTEN session is connected (false between a drop and the reconnection). */
  get listening(): boolean {
    return this.#listener?.listening ?? false;
  }

  /** @throws RangeError for a message id longer than {@link MAX_MESSAGE_ID_BYTES} bytes */
  async cancel(messageId: string, ttl: number): Promise<void> {
    if (Buffer.byteLength(messageId) > MAX_MESSAGE_ID_BYTES) {
      throw new RangeError(`PostgresCancellationBackend takes message ids of at most ${MAX_MESSAGE_ID_BYTES} bytes, got ${Buffer.byteLength(messageId)}`);
    }
    const q = this.#connection.quoted;
    const now = Date.now();
    if (now - this.#lastSweep >= SWEEP_INTERVAL) {
      this.#lastSweep = now;
      await this.#connection.query(`SELECT ${q}.backends_sweep()`);
    }
    await this.#connection.query(
      `WITH c AS (
         INSERT INTO ${q}.cancellations AS c (message_id, expires_at) VALUES ($1, ${NOW_MS} + $2)
         ON CONFLICT (message_id) DO UPDATE SET seq = DEFAULT, expires_at = excluded.expires_at
         RETURNING seq, expires_at)
       SELECT pg_notify($3, seq || ':' || expires_at || ':' || $1) FROM c`,
      [messageId, Math.ceil(ttl), cancellationChannel(this.#connection.schema)],
    );
  }

  async list(): Promise<Map<string, number>> {
    const rows = await this.#connection.query<{ message_id: string; expires_at: string }>(
      `SELECT message_id, expires_at FROM ${this.#connection.quoted}.cancellations WHERE expires_at > ${NOW_MS}`,
    );
    return new Map(rows.map((row) => [row.message_id, Number(row.expires_at)]));
  }

  /**
   * Calls `listener` for every cancellation recorded after this call resolves, by any process
   * on the schema (and again for a message cancelled again). The subscription keeps the
   * process alive until it is ended (the returned function) or the backend closed.
   * @throws ConnectionFailed when the LISTEN session cannot be opened
   */
  async subscribe(listener: (messageId: string, expiresAt: number) => void): Promise<() => Promise<void>> {
    const entry: Listener = (id, expiresAt) => listener(id, expiresAt);
    for (;;) {
      const starting = this.#session();
      const session = await starting;
      // Notifications of cancellations committed before this call are handled before it is added.
      await session.sync();
      // The session was stopped meanwhile (its last subscriber left): start another.
      if (this.#starting !== starting) continue;
      this.#listeners.add(entry);
      break;
    }
    return async () => {
      if (!this.#listeners.delete(entry)) return;
      if (this.#listeners.size === 0) await this.#stopSession();
    };
  }

  /** The LISTEN session, started on first use. */
  #session(): Promise<CancellationListener> {
    this.#starting ??= (async () => {
      const session = new CancellationListener(
        this.#connection,
        (row) => {
          for (const listener of [...this.#listeners]) {
            try {
              listener(row.messageId, row.expiresAt);
            } catch (error) {
              // A listener's fault must not end the session (nor reach the driver's socket handler).
              getLogger("backend.postgres.cancellation").error({ err: error, messageId: row.messageId }, "A cancellation listener threw");
            }
          }
        },
        (error) =>
          // Components fetch their logger lazily (configureLogging may replace the root).
          getLogger("backend.postgres.cancellation").warn({ err: error, where: this.#connection.where }, "Cancellation LISTEN session lost; reconnecting"),
      );
      try {
        await session.start();
      } catch (error) {
        await session.stop();
        throw error;
      }
      this.#listener = session;
      return session;
    })().catch((error: unknown) => {
      this.#starting = undefined;
      throw error;
    });
    return this.#starting;
  }

  async #stopSession(): Promise<void> {
    const starting = this.#starting;
    this.#starting = undefined;
    this.#listener = undefined;
    const session = await starting?.catch(() => undefined);
    await session?.stop();
  }

  /** Ends every subscription and closes this backend's own pool (an application's pool stays open). Idempotent. */
  async close(): Promise<void> {
    this.#listeners.clear();
    await this.#stopSession();
    await this.#connection.close();
  }
}
