// `GET /api/history?minutes=60|1440&queue=&actor=`: the fleet's per-minute history, read once
// from the history store the workers roll up into.
import type { Call } from "./api.ts";
import type { History } from "./api-types.ts";
import type { Fleet } from "./fleet.ts";
import { readHistory } from "./history.ts";
import { HttpError } from "./http.ts";
import { text, whole } from "./params.ts";

export async function historyFor(fleet: Fleet, { query }: Call): Promise<History> {
  const store = await fleet.history();
  if (store === undefined) throw new HttpError(409, "unsupported", fleet.capabilities().notes.history ?? "No history store");
  const minutes = whole(query.get("minutes"), "minutes", 60, 1, 1440);
  const queue = text(query.get("queue"), "queue");
  const actor = text(query.get("actor"), "actor");
  return readHistory(store, { minutes, ...(queue === undefined ? {} : { queue }), ...(actor === undefined ? {} : { actor }) });
}
