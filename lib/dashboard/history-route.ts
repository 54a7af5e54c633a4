// `GET /api/history`: the fleet's per-minute history (wired to the history store below).
import type { Call } from "./api.ts";
import type { Fleet } from "./fleet.ts";
import { HttpError } from "./http.ts";

export async function historyFor(_fleet: Fleet, _call: Call): Promise<unknown> {
  throw new HttpError(409, "unsupported", "History is not wired yet");
}
