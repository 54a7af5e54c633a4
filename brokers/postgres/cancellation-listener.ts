/**
 * The LISTEN session of a PostgresCancellationBackend: a connection of its own (outside the
 * pool, which it would otherwise hold) kept for the cancellations channel. When its connection drops (a server restart, `pg_terminate_backend`,
 * a network cut) it connects again, with a growing delay, LISTENs again and re-reads the rows
 * past the last sequence it saw, so cancellations made while it was away are still heard.
 */
import type { Client, Notification } from "pg";
import type { BackendConnection } from "./backend-connection.ts";
import { NOW_MS } from "./backend-migration.ts";

/** A cancellation as rows and notifications carry it. */
export interface CancellationRow {
  /** Grows with every cancellation. */
  readonly seq: number;
  /** The cancelled message. */
  readonly messageId: string;
  /** Epoch ms (server clock). */
  readonly expiresAt: number;
}

/** First and longest delay before connecting again (ms). */
const RETRY_FIRST = 50;
const RETRY_MAX = 2_000;
/** How many delivered sequence numbers are remembered to drop a notification heard twice. */
const REMEMBERED = 4_096;

/** The channel of a schema's cancellations. */
export function cancellationChannel(schema: string): string {
  return `${schema}.cancellations`;
}

/** A payload `seq:expiresAt:messageId`, or undefined for one that is not. */
function parsePayload(payload: string): CancellationRow | undefined {
  const first = payload.indexOf(":");
  const second = payload.indexOf(":", first + 1);
  if (first < 0 || second < 0) return undefined;
  const row = { seq: Number(payload.slice(0, first)), expiresAt: Number(payload.slice(first + 1, second)), messageId: payload.slice(second + 1) };
  return Number.isSafeInteger(row.seq) && Number.isFinite(row.expiresAt) ? row : undefined;
}

/** One LISTEN session feeding `deliver`, kept alive until `stop`. */
export class CancellationListener {
  readonly #connection: BackendConnection;
  readonly #deliver: (row: CancellationRow) => void;
  readonly #onError: (error: unknown) => void;
  #session: { client: Client; detach(): void } | undefined;
  #lastSeq = 0;
  readonly #seen = new Set<number>();
  #stopped = false;
  #retry: NodeJS.Timeout | undefined;
  #delay = RETRY_FIRST;
  /** The connect in progress, if any. */
  #connecting: Promise<void> | undefined;

  /**
   * @param deliver called once per cancellation heard (duplicates across a reconnection dropped)
   * @param onError called with each connection loss or failed reconnection (the listener keeps trying)
   */
  constructor(connection: BackendConnection, deliver: (row: CancellationRow) => void, onError: (error: unknown) => void) {
    this.#connection = connection;
    this.#deliver = deliver;
    this.#onError = onError;
  }

  /** True while the session is connected and listening. */
  get listening(): boolean {
    return this.#session !== undefined;
  }

  /** Connects and listens; from then on every cancellation committed is delivered. */
  async start(): Promise<void> {
    this.#connecting = this.#connect(true);
    await this.#connecting;
  }

  /**
   * A round trip on the LISTEN session: notifications of cancellations committed before this
   * call are handled by the time it resolves (when connected).
   */
  async sync(): Promise<void> {
    await this.#connecting?.catch(() => {});
    await this.#session?.client.query("SELECT 1").catch(() => {});
  }

  async #connect(first: boolean): Promise<void> {
    const client = await this.#connection.connectSession();
    let lost = false;
    const detach = () => {
      client.off("notification", onNotification);
      client.off("error", onLoss);
      client.off("end", onEnd);
    };
    const onLoss = (error?: unknown) => {
      if (lost) return;
      lost = true;
      detach();
      // Ended quietly: an error of the dying connection is not worth an uncaught exception.
      client.on("error", () => {});
      void client.end().catch(() => {});
      if (this.#session?.client === client) this.#session = undefined;
      if (this.#stopped) return;
      this.#onError(error ?? new Error("LISTEN connection ended"));
      this.#scheduleRetry();
    };
    const onNotification = (message: Notification) => {
      const row = message.payload === undefined ? undefined : parsePayload(message.payload);
      if (row !== undefined) this.#accept(row);
    };
    const onEnd = () => onLoss();
    client.on("error", onLoss);
    client.on("end", onEnd);
    client.on("notification", onNotification);
    const q = this.#connection.quoted;
    try {
      await client.query(`LISTEN "${cancellationChannel(this.#connection.schema)}"`);
      if (first) {
        const { rows } = await client.query<{ seq: string }>(`SELECT coalesce(max(seq), 0) AS seq FROM ${q}.cancellations`);
        this.#lastSeq = Math.max(this.#lastSeq, Number(rows[0]!.seq));
      } else {
        // What was cancelled while the session was away.
        const { rows } = await client.query<{ seq: string; message_id: string; expires_at: string }>(
          `SELECT seq, message_id, expires_at FROM ${q}.cancellations WHERE seq > $1 AND expires_at > ${NOW_MS} ORDER BY seq`,
          [this.#lastSeq],
        );
        for (const row of rows) this.#accept({ seq: Number(row.seq), messageId: row.message_id, expiresAt: Number(row.expires_at) });
      }
    } catch (error) {
      if (first && !lost) {
        // The caller hears this one: no reconnecting behind its back.
        lost = true;
        detach();
        client.on("error", () => {});
        void client.end().catch(() => {});
      }
      onLoss(error);
      if (first) throw this.#connection.translate(error);
      return;
    }
    if (lost) return;
    if (this.#stopped) {
      onLoss();
      return;
    }
    this.#session = { client, detach };
    this.#delay = RETRY_FIRST;
  }

  #scheduleRetry(): void {
    if (this.#stopped || this.#retry !== undefined) return;
    this.#retry = setTimeout(() => {
      this.#retry = undefined;
      if (this.#stopped) return;
      this.#connecting = this.#connect(false).catch((error: unknown) => {
        this.#onError(error);
        this.#scheduleRetry();
      });
    }, this.#delay);
    this.#delay = Math.min(this.#delay * 2, RETRY_MAX);
  }

  #accept(row: CancellationRow): void {
    if (this.#stopped || this.#seen.has(row.seq)) return;
    this.#seen.add(row.seq);
    if (this.#seen.size > REMEMBERED) this.#seen.delete(this.#seen.values().next().value!);
    this.#lastSeq = Math.max(this.#lastSeq, row.seq);
    this.#deliver(row);
  }

  /** Stops listening and gives the client back. Idempotent. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#retry);
    this.#retry = undefined;
    await this.#connecting?.catch(() => {});
    const session = this.#session;
    this.#session = undefined;
    if (session === undefined) return;
    session.detach();
    session.client.on("error", () => {});
    await session.client.end().catch(() => {});
  }
}
