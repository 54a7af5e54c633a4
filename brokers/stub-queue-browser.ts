import { checkBrowse, listedId, type BrowseOptions, type BrowsePage, type FoundMessage, type QueueBrowser, type StoredMessage } from "../lib/queue-browser.ts";
import { assertQueueName } from "../lib/queue-names.ts";

/** A waiting message as the stub keeps it. */
export interface StubEntryView {
  /** The broker's id (listed for a body that does not decode). */ readonly id: number;
  readonly body: string;
  readonly priority: number;
  /** Arrival order. */ readonly seq: number;
  /** Delayed: when it becomes ready. */ readonly eta: number;
}

/** A dead letter as the stub keeps it, oldest first. */
export interface StubDeadView {
  readonly id: string;
  readonly body: string;
  readonly reason: string;
  readonly deadAt: number;
}

/** What the browser reads of the stub broker. */
export interface StubBrowserHost {
  /** The queue's messages by state (in any order but the dead, oldest first), or undefined for an undeclared queue. */
  contents(queueName: string): { ready: readonly StubEntryView[]; delayed: readonly StubEntryView[]; dead: readonly StubDeadView[] } | undefined;
  /** Deletes the queue's dead letters whose id is in `ids`, in one step; returns how many. */
  deleteDead(queueName: string, ids: ReadonlySet<string>): number;
  /** Reads a payload (for its message id). */
  decode(body: string): { messageId: string };
}

const byPriority = (a: StubEntryView, b: StubEntryView) => a.priority - b.priority || a.seq - b.seq;
const byEta = (a: StubEntryView, b: StubEntryView) => a.eta - b.eta || a.seq - b.seq;

/**
 * The stub broker's queue browser (lib/queue-browser.ts): its heaps sorted as they hand
 * messages out (ready by priority then arrival, delayed by eta), dead letters newest first.
 * In memory every call is one synchronous step. An undeclared queue is empty.
 */
export class StubQueueBrowser implements QueueBrowser {
  readonly #host: StubBrowserHost;

  constructor(host: StubBrowserHost) {
    this.#host = host;
  }

  async browse(queueName: string, options: BrowseOptions): Promise<BrowsePage> {
    checkBrowse(queueName, options);
    const contents = this.#host.contents(queueName);
    if (contents === undefined) return { total: 0, messages: [] };
    const end = options.offset + options.limit;
    if (options.state === "dead") {
      const dead = contents.dead;
      const page = dead.slice(Math.max(0, dead.length - end), Math.max(0, dead.length - options.offset)).reverse();
      return { total: dead.length, messages: page.map(deadMessage) };
    }
    const delayed = options.state === "delayed";
    const entries = [...(delayed ? contents.delayed : contents.ready)].sort(delayed ? byEta : byPriority);
    const messages = entries.slice(options.offset, end).map((entry) => this.#message(entry, delayed));
    return { total: entries.length, messages };
  }

  async find(queueName: string, id: string): Promise<FoundMessage | undefined> {
    assertQueueName(queueName);
    const contents = this.#host.contents(queueName);
    if (contents === undefined) return undefined;
    for (const [state, entries] of [["ready", contents.ready], ["delayed", contents.delayed]] as const) {
      const entry = entries.find((e) => String(e.id) === id || this.#id(e) === id);
      if (entry !== undefined) return { state, message: this.#message(entry, state === "delayed") };
    }
    const dead = [...contents.dead].reverse().find((d) => d.id === id);
    return dead === undefined ? undefined : { state: "dead", message: deadMessage(dead) };
  }

  async deleteDeadLetters(queueName: string, ids: readonly string[]): Promise<number> {
    assertQueueName(queueName);
    return ids.length === 0 ? 0 : this.#host.deleteDead(queueName, new Set(ids));
  }

  #message(entry: StubEntryView, delayed: boolean): StoredMessage {
    const message: StoredMessage = { id: this.#id(entry), body: entry.body };
    if (delayed) message.eta = entry.eta;
    return message;
  }

  #id(entry: StubEntryView): string {
    return listedId((body) => this.#host.decode(body), entry.body, String(entry.id));
  }
}

function deadMessage(dead: StubDeadView): StoredMessage {
  return { id: dead.id, body: dead.body, reason: dead.reason, deadAt: dead.deadAt };
}
