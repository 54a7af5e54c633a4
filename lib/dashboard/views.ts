// How a stored message is shown: decoded when it decodes (through the redact hook, then with
// password-like fields masked), else marked malformed with its raw text. Never throws on what a
// queue holds: queues may hold anything.
import type { Broker } from "../broker.ts";
import type { MessageData } from "../message.ts";
import { redact, scrubSecrets } from "../redact.ts";
import type { MessageDetail, MessageState, MessageSummary } from "./api-types.ts";

/** A message as a broker stores it: what the queue browser returns. */
export interface StoredView {
  id: string;
  body: string;
  eta?: number | undefined;
  reason?: string | undefined;
  deadAt?: number | undefined;
}

/** Applied to every message before a page or the API shows it (hide arguments there). */
export type RedactHook = (message: MessageData) => MessageData;

/** Malformed bodies are shown at most this long in lists, and in detail. */
const RAW_IN_LIST = 4 * 1024;
const RAW_IN_DETAIL = 64 * 1024;

/** A decoded message (after the hook) or why it does not decode. */
export interface Decoded {
  data: MessageData | undefined;
  malformed: string | undefined;
}

/** Decodes and redacts `body`; a body that does not decode, or a hook that throws, gives `malformed`. */
export function decodeForView(broker: Broker, body: string, hook: RedactHook | undefined): Decoded {
  let data: MessageData;
  try {
    data = broker.decode(body).asData();
  } catch (error) {
    return { data: undefined, malformed: redact(describe(error)) };
  }
  try {
    const hooked = hook === undefined ? data : hook(structuredClone(data));
    return { data: scrubSecrets(hooked) as MessageData, malformed: undefined };
  } catch (error) {
    // A hook that fails must not show what it was meant to hide.
    return { data: undefined, malformed: `The redact hook failed on this message: ${redact(describe(error))}` };
  }
}

/** A listed message. */
export function summarize(stored: StoredView, state: MessageState, decoded: Decoded): MessageSummary {
  const data = decoded.data;
  const options = (data?.options ?? {}) as Record<string, unknown>;
  return {
    id: stored.id,
    state,
    actor: data?.actor_name ?? null,
    args: data?.args ?? null,
    kwargs: data?.kwargs ?? null,
    enqueuedAt: typeof data?.message_timestamp === "number" ? data.message_timestamp : null,
    eta: stored.eta ?? (typeof options.eta === "number" ? options.eta : null),
    retries: typeof options.retries === "number" ? options.retries : 0,
    reason: stored.reason === undefined ? null : redact(stored.reason),
    deadAt: stored.deadAt ?? null,
    malformed: decoded.malformed ?? null,
    raw: decoded.malformed === undefined ? null : cut(redact(stored.body), RAW_IN_LIST),
  };
}

/** A message with everything known about it. */
export function detail(queue: string, stored: StoredView, state: MessageState, decoded: Decoded): MessageDetail {
  const summary = summarize(stored, state, decoded);
  const options = { ...((decoded.data?.options ?? {}) as Record<string, unknown>) };
  const failures: MessageDetail["failures"] = [];
  const traceback = typeof options.traceback === "string" ? redact(options.traceback) : null;
  if (traceback !== null) failures.push({ error: firstLine(traceback), traceback });
  if (summary.reason !== null && (traceback === null || !traceback.includes(firstLine(summary.reason)))) {
    failures.push({ error: firstLine(summary.reason), traceback: summary.reason.includes("\n") ? summary.reason : null });
  }
  return {
    ...summary,
    queue,
    message: decoded.data === undefined ? null : (decoded.data as unknown as Record<string, unknown>),
    options,
    failures,
    raw: cut(decoded.data === undefined ? redact(stored.body) : JSON.stringify(decoded.data), RAW_IN_DETAIL),
  };
}

/** Whether a decoded message matches the list's filter (actor exact, text in its arguments, kwargs or options, any case). */
export function matches(decoded: Decoded, stored: StoredView, filter: { actor?: string | undefined; text?: string | undefined; reason?: string | undefined }): boolean {
  const data = decoded.data;
  if (filter.actor !== undefined && data?.actor_name !== filter.actor) return false;
  if (filter.reason !== undefined && firstLine(redact(stored.reason ?? "")) !== filter.reason) return false;
  if (filter.text !== undefined) {
    const haystack = data === undefined ? redact(stored.body) : JSON.stringify([data.args, data.kwargs, data.options]);
    if (!haystack.toLowerCase().includes(filter.text.toLowerCase())) return false;
  }
  return true;
}

/** The first line of a reason or traceback, cut to 300 characters: what dead letters are grouped by. */
export function firstLine(text: string): string {
  const line = text.split("\n", 1)[0]!.trim();
  return line.length > 300 ? `${line.slice(0, 300)}…` : line;
}

function cut(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max)}… (${text.length - max} more characters)` : text;
}

function describe(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}
