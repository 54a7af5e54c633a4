import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";

/**
 * One full garbage collection, now. A worker process calls it once booted: importing the
 * modules and building the broker leave megabytes of garbage in the old generation, which V8's
 * memory reducer would only return some seconds later. Uses V8's gc() without making it a global
 * of the user's code (unless `--expose-gc` already did).
 */
export function collectGarbage(): void {
  const exposed = (globalThis as { gc?: () => void }).gc;
  if (typeof exposed === "function") return exposed();
  setFlagsFromString("--expose-gc");
  const gc = runInNewContext("gc") as () => void;
  setFlagsFromString("--no-expose-gc");
  gc();
}
