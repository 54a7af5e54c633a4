import type { Broker } from "../broker.ts";
import { historyStoreOf } from "../history-store.ts";
import { getLogger } from "../logging.ts";
import { FleetHistory } from "../../middleware/history.ts";
import { StoreUrl } from "../../middleware/store-url.ts";

/**
 * The FleetHistory middleware a CLI worker process adds to its broker: into the `--store` store
 * when given, else the broker's own history store; undefined when the worker registry is off
 * (`--registry-interval 0` turns both off) or there is no store (RabbitMQ without `--store`:
 * logged once), and when the modules' broker already has one (theirs is kept). `workerId` is the
 * registry publisher's, so both name the process alike.
 */
export function historyFor(broker: Broker, options: { store: string | undefined; registryInterval: number }, workerId: string | undefined): FleetHistory | undefined {
  if (options.registryInterval <= 0 || broker.middleware.some((m) => m instanceof FleetHistory)) return undefined;
  const store = options.store === undefined ? undefined : new StoreUrl(options.store);
  const own = historyStoreOf(broker);
  if (store === undefined && own === undefined) {
    getLogger("history").info(`${broker.constructor.name} has no store for the fleet history: pass --store URL for the dashboard's charts`);
    return undefined;
  }
  return new FleetHistory({
    store: store === undefined ? own! : () => store.openHistory(),
    ...(workerId === undefined ? {} : { workerId }),
    ...(store === undefined ? {} : { close: () => store.close() }),
  });
}
