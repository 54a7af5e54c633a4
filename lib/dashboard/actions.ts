// The dashboard's actions on dead letters and queues: each checks that what it names exists now
// (404 when not, 409 when the selection changed since the page counted it) and changes nothing
// otherwise.
import type { ActionResult, Selection } from "./api-types.ts";
import type { Fleet } from "./fleet.ts";
import { HttpError } from "./http.ts";
import type { MessageLists } from "./messages.ts";

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}

export function done(count: number, message: string): ActionResult {
  return { ok: true, count, message };
}

/** The ids a selection names now. @throws HttpError 404 for ids that are no dead letters of the queue, 409 when `expect` differs */
async function resolve(lists: MessageLists, queue: string, selection: Selection): Promise<string[]> {
  const ids = await lists.select(queue, selection);
  if (selection.ids !== undefined && ids.length < selection.ids.length) {
    const found = new Set(ids);
    const missing = selection.ids.filter((id) => !found.has(id));
    throw new HttpError(404, "not_found", `Not dead letters of ${queue} (any more): ${missing.slice(0, 5).join(", ")}${missing.length > 5 ? ` and ${missing.length - 5} more` : ""}; nothing was changed`);
  }
  if (selection.expect !== undefined && ids.length !== selection.expect) {
    throw new HttpError(409, "conflict", `The selection now holds ${plural(ids.length, "dead letter")}, not ${selection.expect}: reload and confirm again; nothing was changed`);
  }
  return ids;
}

/** Requeues the selected dead letters. */
export async function requeueDead(fleet: Fleet, lists: MessageLists, queue: string, selection: Selection): Promise<ActionResult> {
  const ids = await resolve(lists, queue, selection);
  const count = ids.length === 0 ? 0 : await fleet.broker.requeueDeadLetters(queue, ids);
  return done(count, `Requeued ${plural(count, "dead letter")} of ${queue}`);
}

/** Deletes the selected dead letters. @throws HttpError 409 on a broker that cannot */
export async function deleteDead(fleet: Fleet, lists: MessageLists, queue: string, selection: Selection): Promise<ActionResult> {
  const browser = fleet.browser;
  if (browser === undefined) throw new HttpError(409, "unsupported", fleet.capabilities().notes.deleteDeadLetters ?? "This broker cannot delete dead letters");
  const ids = await resolve(lists, queue, selection);
  const count = ids.length === 0 ? 0 : await browser.deleteDeadLetters(queue, ids);
  return done(count, `Deleted ${plural(count, "dead letter")} of ${queue}`);
}

/** Drops everything the queue holds, once the body names the queue again. */
export async function purge(fleet: Fleet, queue: string, confirm: unknown): Promise<ActionResult> {
  if (confirm !== queue) throw new HttpError(400, "bad_request", `To purge, send { "confirm": ${JSON.stringify(queue)} }`);
  const before = await fleet.broker.depths(queue);
  await fleet.broker.flush(queue);
  const count = before.ready + before.delayed + before.dead;
  return done(count, `Purged ${queue}: dropped ${before.ready} ready, ${before.delayed} delayed and ${plural(before.dead, "dead message")}`);
}
