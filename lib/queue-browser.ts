/**
 * The queue browser: lists a queue's messages page by page without consuming them, for the
 * dashboard. Paging is done in the broker (LRANGE / ZRANGE / SQL LIMIT), so opening a queue of
 * 100,000 messages reads one page, not the queue. A broker whose store can be read in place
 * offers one (Redis, SQLite, the stub); RabbitMQ cannot look at a message without taking it,
 * so it has none.
 */
import type { Broker } from "./broker.ts";
import { InvalidOptions } from "./errors.ts";
import { assertQueueName } from "./queue-names.ts";

/** Where a message sits in its queue: waiting to run, waiting for its eta, or dead-lettered. */
export type BrowseState = "ready" | "delayed" | "dead";

/** The states, in the order the dashboard shows them. */
export const BROWSE_STATES: readonly BrowseState[] = ["ready", "delayed", "dead"];

/** Most messages one page holds. */
export const MAX_BROWSE_LIMIT = 1000;

/** A message as the broker stores it. Bodies that do not decode are listed too, as they are. */
export interface StoredMessage {
  /**
   * The message id when the body decodes, else the broker's own id for it (the id
   * `deadLetters()` reports and `requeueDeadLetters()` and `deleteDeadLetters()` accept).
   */
  id: string;
  /** The stored bytes, exactly (a delayed Redis message: the delay-queue payload, with its `eta`). */
  body: string;
  /** Delayed: when it becomes ready (epoch ms); absent when its body does not say. */
  eta?: number;
  /** Dead: why it was dead-lettered. */
  reason?: string;
  /** Dead: when (epoch ms). */
  deadAt?: number;
}

/** One page of a queue's messages in one state. */
export interface BrowsePage {
  /** Messages of the queue in that state (all of them, not only this page's). */
  total: number;
  /** The page. Shorter than the limit at the end, or when messages left the state between two reads. */
  messages: StoredMessage[];
}

/** A message found by id, and where it is. */
export interface FoundMessage {
  /** Ready, delayed or dead. */
  state: BrowseState;
  /** The message as stored. */
  message: StoredMessage;
}

/** What to list. */
export interface BrowseOptions {
  /** Which messages: ready, delayed or dead. */
  state: BrowseState;
  /** Messages to skip (an integer, 0 or more). */
  offset: number;
  /** Messages to list at most (an integer from 0 to {@link MAX_BROWSE_LIMIT}). */
  limit: number;
}

/** Reads a queue's messages in place; each broker that can implements it in its own file. */
export interface QueueBrowser {
  /**
   * Messages of `queueName` in `options.state`: ready ones in the order workers fetch them,
   * delayed ones by eta (soonest first), dead ones newest first. A message taken or settled
   * between two of the broker's reads is left out of the page.
   * @throws InvalidOptions for an invalid queue name, state, offset or limit.
   */
  browse(queueName: string, options: BrowseOptions): Promise<BrowsePage>;
  /**
   * The message `id` (its message id, or the broker's own id for it) if it is ready, delayed or
   * dead; undefined otherwise (unknown, or being run by a worker right now).
   * @throws InvalidOptions for an invalid queue name.
   */
  find(queueName: string, id: string): Promise<FoundMessage | undefined>;
  /**
   * Deletes the dead letters of `queueName` with these ids (message ids or the broker's ids);
   * ids that name no dead letter of the queue are ignored. Each message goes at once, whole.
   * @returns how many dead letters were deleted.
   * @throws InvalidOptions for an invalid queue name.
   */
  deleteDeadLetters(queueName: string, ids: readonly string[]): Promise<number>;
}

/** A broker that offers a queue browser. */
export interface HasQueueBrowser {
  /** Reads its queues without consuming them. */ readonly queueBrowser: QueueBrowser;
}

/** The broker's queue browser, or undefined for a broker that cannot browse (RabbitMQ). */
export function queueBrowserOf(broker: Broker): QueueBrowser | undefined {
  const browser = (broker as Partial<HasQueueBrowser>).queueBrowser;
  return browser !== undefined && typeof browser.browse === "function" ? browser : undefined;
}

/**
 * Checks a browse call's arguments (every implementation calls it first).
 * @throws InvalidOptions naming what is wrong.
 */
export function checkBrowse(queueName: string, options: BrowseOptions): void {
  assertQueueName(queueName);
  if (!BROWSE_STATES.includes(options.state)) {
    throw new InvalidOptions(`Browse state ${JSON.stringify(options.state)} is invalid: it must be one of ${BROWSE_STATES.join(", ")}`);
  }
  if (!Number.isSafeInteger(options.offset) || options.offset < 0) {
    throw new InvalidOptions(`Browse offset ${String(options.offset)} is invalid: it must be an integer, 0 or more`);
  }
  if (!Number.isSafeInteger(options.limit) || options.limit < 0 || options.limit > MAX_BROWSE_LIMIT) {
    throw new InvalidOptions(`Browse limit ${String(options.limit)} is invalid: it must be an integer from 0 to ${MAX_BROWSE_LIMIT}`);
  }
}

/** The id a listing shows: the message id when `body` decodes, else `brokerId`. Never throws. */
export function listedId(decode: (body: string) => { messageId: string }, body: string, brokerId: string): string {
  try {
    return decode(body).messageId;
  } catch {
    return brokerId;
  }
}
