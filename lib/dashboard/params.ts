// Reading the API's query strings and POST bodies: every value checked, with a 400 that says
// what was wrong; nothing unchecked reaches a broker.
import type { MessageState, Selection } from "./api-types.ts";
import { HttpError } from "./http.ts";

const STATES = new Set<MessageState>(["ready", "delayed", "dead"]);
/** Longest filter text, actor name, queue name or message id accepted. */
const MAX_TEXT = 256;
/** Most ids one action names. */
export const MAX_IDS = 10_000;
/** Largest page. */
export const MAX_LIMIT = 500;

function bad(message: string): HttpError {
  return new HttpError(400, "bad_request", message);
}

/** An optional short string parameter; empty means absent. */
export function text(value: unknown, name: string): string | undefined {
  if (value === undefined || value === null || value === "") return undefined;
  if (typeof value !== "string" || value.length > MAX_TEXT) throw bad(`${name} must be a string of at most ${MAX_TEXT} characters`);
  return value;
}

/** A whole number parameter within [min, max], or `fallback` when absent. */
export function whole(value: string | null, name: string, fallback: number, min: number, max: number): number {
  if (value === null || value === "") return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max) throw bad(`${name} must be a whole number from ${min} to ${max}, got ${JSON.stringify(value.slice(0, 40))}`);
  return n;
}

/** A message state parameter. */
export function state(value: string | null, fallback: MessageState): MessageState {
  if (value === null || value === "") return fallback;
  if (!STATES.has(value as MessageState)) throw bad(`state must be ready, delayed or dead, got ${JSON.stringify(value.slice(0, 40))}`);
  return value as MessageState;
}

/** A path segment, decoded and bounded. */
export function segment(raw: string, name: string): string {
  let value: string;
  try {
    value = decodeURIComponent(raw);
  } catch {
    throw bad(`${name} is not valid percent-encoding`);
  }
  if (value === "" || value.length > MAX_TEXT) throw bad(`${name} must be 1 to ${MAX_TEXT} characters`);
  return value;
}

/** A dead-letter selection from a POST body: ids, or a filter, and the count the page showed. */
export function selection(body: Record<string, unknown>): Selection {
  const { ids, filter, expect } = body;
  const out: Selection = {};
  if (ids !== undefined) {
    if (!Array.isArray(ids) || ids.length === 0 || ids.length > MAX_IDS || !ids.every((id) => typeof id === "string" && id !== "" && id.length <= MAX_TEXT)) {
      throw bad(`ids must be a list of 1 to ${MAX_IDS} message ids`);
    }
    out.ids = [...new Set(ids as string[])];
  }
  if (filter !== undefined) {
    if (filter === null || typeof filter !== "object" || Array.isArray(filter)) throw bad("filter must be an object with actor, text or reason");
    const f = filter as Record<string, unknown>;
    const actor = text(f.actor, "filter.actor");
    const match = text(f.text, "filter.text");
    const reason = text(f.reason, "filter.reason");
    out.filter = { ...(actor === undefined ? {} : { actor }), ...(match === undefined ? {} : { text: match }), ...(reason === undefined ? {} : { reason }) };
  }
  if ((out.ids === undefined) === (out.filter === undefined)) throw bad("Name the dead letters by ids or by filter (one of the two)");
  if (expect !== undefined) {
    if (!Number.isInteger(expect) || (expect as number) < 0) throw bad("expect must be a whole number");
    out.expect = expect as number;
  }
  return out;
}
