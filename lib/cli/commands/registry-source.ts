// Where `dramats workers` and `dramats health` read the worker registry: the `--store` store
// when given (as the workers were given it), else the broker's own.
import { StoreUrl } from "../../../middleware/store-url.ts";
import { workerRegistryOf, type WorkerRecord } from "../../worker-registry.ts";
import { CliError, ExitCode } from "../exit-codes.ts";
import type { Session } from "./session.ts";

/**
 * Every record in the registry (corrupt ones skipped), read within the session's timeout.
 * @throws CliError: 2 when the broker has no registry and no `--store` was given, 3 when it does not answer.
 */
export async function readRegistry(session: Session, store: string | undefined): Promise<WorkerRecord[]> {
  if (store !== undefined) {
    const url = new StoreUrl(store);
    try {
      return await session.call("the worker registry", async () => (await url.openRegistry()).list(), `the store (${url.url})`);
    } finally {
      await url.close();
    }
  }
  const registry = workerRegistryOf(session.broker);
  if (registry === undefined) {
    throw new CliError(
      `${session.broker.constructor.name} has no store for the worker registry: pass --store URL, the store the workers were given with --store`,
      ExitCode.IMPORT_ERROR,
    );
  }
  return session.call("the worker registry", () => registry.list());
}
