// The message lists behind the Queue and Dead letters pages: pages read from the broker (never
// the whole queue), filters applied while scanning the queue page by page, with a bound on how
// much one request scans, and the selections of dead letters that actions work on.
import type { Broker } from "../broker.ts";
import type { QueueBrowser } from "../queue-browser.ts";
import { redact } from "../redact.ts";
import type { MessagePage, MessageState, ReasonGroups } from "./api-types.ts";
import { HttpError } from "./http.ts";
import { decodeForView, firstLine, matches, summarize, type Decoded, type RedactHook, type StoredView } from "./views.ts";

/** Messages read from the broker per call while scanning. */
const CHUNK = 500;
/** A filtered list stops scanning after this many messages (`complete: false`). */
export const LIST_SCAN_LIMIT = 20_000;
/** Selections and reason groups of dead letters scan at most this many. */
export const DEAD_SCAN_LIMIT = 200_000;
/** On a broker that cannot browse (RabbitMQ), dead letters are read through `deadLetters`, at most this many. */
export const UNBROWSABLE_DEAD_LIMIT = 1_000;

/** What a list shows: a state, a page, an optional filter. */
export interface ListQuery {
  state: MessageState;
  offset: number;
  limit: number;
  actor?: string | undefined;
  text?: string | undefined;
  reason?: string | undefined;
}

/** Reads a queue's messages for the pages. */
export class MessageLists {
  constructor(
    private readonly broker: Broker,
    private readonly browser: QueueBrowser | undefined,
    private readonly hook: RedactHook | undefined,
  ) {}

  /** One page of a list. */
  async page(queue: string, query: ListQuery): Promise<MessagePage> {
    const filtered = query.actor !== undefined || query.text !== undefined || query.reason !== undefined;
    if (!filtered) {
      const { total, messages } = await this.#read(queue, query.state, query.offset, query.limit);
      return {
        queue,
        state: query.state,
        offset: query.offset,
        limit: query.limit,
        total,
        messages: messages.map((m) => summarize(m, query.state, this.decode(m.body))),
        filter: null,
      };
    }
    const found: MessagePage["messages"] = [];
    let matched = 0;
    const scan = await this.scan(queue, query.state, LIST_SCAN_LIMIT, (stored, decoded) => {
      if (!matches(decoded, stored, query)) return;
      if (matched >= query.offset && found.length < query.limit) found.push(summarize(stored, query.state, decoded));
      matched++;
    });
    return {
      queue,
      state: query.state,
      offset: query.offset,
      limit: query.limit,
      total: scan.total,
      messages: found,
      filter: { actor: query.actor ?? null, text: query.text ?? null, reason: query.reason ?? null, matched, scanned: scan.scanned, complete: scan.complete },
    };
  }

  /** Dead letters grouped by the first line of their reason, largest group first. */
  async groups(queue: string, filter: { actor?: string | undefined; text?: string | undefined }): Promise<ReasonGroups> {
    const counts = new Map<string, number>();
    const scan = await this.scan(queue, "dead", DEAD_SCAN_LIMIT, (stored, decoded) => {
      if (!matches(decoded, stored, filter)) return;
      const reason = firstLine(redact(stored.reason ?? "unknown"));
      counts.set(reason, (counts.get(reason) ?? 0) + 1);
    });
    const groups = [...counts].map(([reason, count]) => ({ reason, count })).sort((a, b) => b.count - a.count || a.reason.localeCompare(b.reason));
    return { queue, groups, scanned: scan.scanned, complete: scan.complete };
  }

  /**
   * The ids of the dead letters a selection names: the listed ids that are dead letters now, or
   * every one matching the filter (the whole queue's dead letters are scanned).
   * @throws HttpError 409 when the queue holds more dead letters than one action scans
   */
  async select(queue: string, selection: { ids?: string[] | undefined; filter?: { actor?: string; text?: string; reason?: string } | undefined }): Promise<string[]> {
    const wanted = selection.ids === undefined ? undefined : new Set(selection.ids);
    // A set: dead letters written during the scan shift the pages, so one may be seen twice.
    const ids = new Set<string>();
    const scan = await this.scan(queue, "dead", DEAD_SCAN_LIMIT, (stored, decoded) => {
      if (wanted !== undefined ? wanted.has(stored.id) : matches(decoded, stored, selection.filter ?? {})) ids.add(stored.id);
    });
    if (!scan.complete) throw new HttpError(409, "conflict", `${queue} holds more than ${DEAD_SCAN_LIMIT} dead letters: act on them with dramats requeue, or by ids`);
    return [...ids];
  }

  /** One message by id, in whichever state it is now, or undefined. */
  async find(queue: string, id: string): Promise<{ state: MessageState; stored: StoredView } | undefined> {
    if (this.browser !== undefined) {
      const found = await this.browser.find(queue, id);
      return found === undefined ? undefined : { state: found.state, stored: found.message };
    }
    const dead = (await this.broker.deadLetters(queue, UNBROWSABLE_DEAD_LIMIT)).find((d) => d.id === id);
    return dead === undefined ? undefined : { state: "dead", stored: dead };
  }

  decode(body: string): Decoded {
    return decodeForView(this.broker, body, this.hook);
  }

  /** Calls `visit` with each message of the state in order, up to `limit`, a chunk at a time. */
  async scan(queue: string, state: MessageState, limit: number, visit: (stored: StoredView, decoded: Decoded) => void): Promise<{ total: number; scanned: number; complete: boolean }> {
    let offset = 0;
    let total = 0;
    while (offset < limit) {
      const page = await this.#read(queue, state, offset, Math.min(CHUNK, limit - offset));
      total = page.total;
      for (const stored of page.messages) visit(stored, this.decode(stored.body));
      offset += page.messages.length;
      if (page.messages.length === 0 || offset >= page.total) return { total, scanned: offset, complete: true };
    }
    return { total, scanned: offset, complete: offset >= total };
  }

  async #read(queue: string, state: MessageState, offset: number, limit: number): Promise<{ total: number; messages: StoredView[] }> {
    if (this.browser !== undefined) return this.browser.browse(queue, { state, offset, limit });
    if (state !== "dead") {
      throw new HttpError(409, "unsupported", `${this.broker.constructor.name} cannot list ${state} messages without consuming them; the counts come from the broker`);
    }
    const dead = await this.broker.deadLetters(queue, UNBROWSABLE_DEAD_LIMIT);
    dead.reverse(); // Newest first, as browsers list them.
    return { total: dead.length, messages: dead.slice(offset, offset + limit) };
  }
}
