import { AsyncLocalStorage } from "node:async_hooks";
import type { SqlClient } from "../../lib/transactional.ts";
import type { Run, RunResult } from "./queries.ts";

/**
 * Which PostgresBroker writes through which application client, for the code `withTransaction`
 * runs (and everything it awaits or starts): an AsyncLocalStorage, so sends deep in the
 * application's code need no client passed down. Keyed by broker: a scope of one broker does
 * not redirect another's writes.
 */
const scopes = new AsyncLocalStorage<ReadonlyMap<object, Through>>();

/** Where a broker writes inside a scope. */
export interface Through {
  /** Runs statements on the application's client. */
  readonly run: Run;
  /** True when the client is known to have no transaction open (a `pg` client says so); false when open or unknown. */
  idle(): boolean;
}

/** `pg`'s Client (8.x) reports the transaction status of its last ReadyForQuery: "I" idle, "T" in a block, "E" failed block. */
interface StatusClient {
  getTransactionStatus(): string | null;
}

/** A Through for `client`. */
export function through(client: SqlClient, translate: (error: unknown) => unknown): Through {
  const status = typeof (client as Partial<StatusClient>).getTransactionStatus === "function" ? (client as unknown as StatusClient) : undefined;
  return { run: clientRun(client, translate), idle: () => status?.getTransactionStatus() === "I" };
}

/** A Run on the application's client, reading `rows` (and `rowCount`) from what it returns. */
function clientRun(client: SqlClient, translate: (error: unknown) => unknown): Run {
  return async <R>(text: string, values?: readonly unknown[]) => {
    let result: unknown;
    try {
      result = await client.query(text, values === undefined ? undefined : [...values]);
    } catch (error) {
      throw translate(error);
    }
    const { rows, rowCount } = (result ?? {}) as { rows?: R[]; rowCount?: number | null };
    return { rows: rows ?? [], rowCount: rowCount ?? null } satisfies RunResult<R> as RunResult<R>;
  };
}

/** Runs `fn` with `owner`'s writes going `to` the application's client (nested scopes of other brokers kept). */
export function withScope<T>(owner: object, to: Through, fn: () => T | Promise<T>): Promise<T> {
  const outer = scopes.getStore();
  const inner = new Map(outer);
  inner.set(owner, to);
  return scopes.run(inner, async () => fn());
}

/** Where `owner` writes here, when inside one of its `withTransaction` scopes. */
export function scopedThrough(owner: object): Through | undefined {
  return scopes.getStore()?.get(owner);
}
