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

/**
 * A Through for `client`. With `prepare`, named statements go to a `pg` client as `pg` query
 * configs (prepared once per connection); other clients get the text and values.
 */
export function through(client: SqlClient, translate: (error: unknown) => unknown, prepare: boolean): Through {
  const status = typeof (client as Partial<StatusClient>).getTransactionStatus === "function" ? (client as unknown as StatusClient) : undefined;
  return { run: clientRun(client, translate, prepare && status !== undefined), idle: () => status?.getTransactionStatus() === "I" };
}

/** `pg`'s query method taking a query config (what `{ name }` needs). */
type ConfigQuery = (config: { name: string; text: string; values: unknown[] | undefined }) => Promise<unknown>;

/** A Run on the application's client, reading `rows` (and `rowCount`) from what it returns. */
function clientRun(client: SqlClient, translate: (error: unknown) => unknown, prepare: boolean): Run {
  return async <R>(text: string, values?: readonly unknown[], name?: string) => {
    let result: unknown;
    const copy = values === undefined ? undefined : [...values];
    try {
      result = await (prepare && name !== undefined ? (client.query as unknown as ConfigQuery).call(client, { name, text, values: copy }) : client.query(text, copy));
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
