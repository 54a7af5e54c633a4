import { AsyncLocalStorage } from "node:async_hooks";
import type { SqlClient } from "../../lib/transactional.ts";
import type { Run, RunResult } from "./queries.ts";

/**
 * Which PostgresBroker writes through which application client, for the code `withTransaction`
 * runs (and everything it awaits or starts): an AsyncLocalStorage, so sends deep in the
 * application's code need no client passed down. Keyed by broker: a scope of one broker does
 * not redirect another's writes.
 */
const scopes = new AsyncLocalStorage<ReadonlyMap<object, Run>>();

/** A Run on the application's client, reading `rows` (and `rowCount`) from what it returns. */
export function clientRun(client: SqlClient, translate: (error: unknown) => unknown): Run {
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

/** Runs `fn` with `owner`'s writes going through `run` (nested scopes of other brokers kept). */
export function withScope<T>(owner: object, run: Run, fn: () => T | Promise<T>): Promise<T> {
  const outer = scopes.getStore();
  const inner = new Map(outer);
  inner.set(owner, run);
  return scopes.run(inner, async () => fn());
}

/** The Run `owner` writes through here, when inside one of its `withTransaction` scopes. */
export function scopedRun(owner: object): Run | undefined {
  return scopes.getStore()?.get(owner);
}
