/**
 * Fleet-wide queue pauses: a flag per queue in a shared {@link KeyValueStore} (the broker's own
 * store, or the `--store` store on RabbitMQ). Every Worker reading that store polls the flags of
 * the queues it consumes (see WorkerOptions.pausePoll) and, while one is set, starts none of
 * that queue's messages: it stops fetching and gives what it prefetched back to the broker.
 * A pause lasts until {@link resumeQueue}.
 */
import { InvalidOptions } from "./errors.ts";
import type { KeyValueStore } from "./key-value-store.ts";
import { assertQueueName } from "./queue-names.ts";

/** The store key of `queue`'s pause flag. */
export function pauseKey(queue: string): string {
  return `dramats:paused:${queue}`;
}

/** A pause flag is kept this long (ms): about ten years, so in effect until resumed. */
export const PAUSE_TTL = 10 * 365 * 24 * 3600_000;

/** What a pause flag holds. */
export interface QueuePause {
  /** Epoch ms when the queue was paused. */ pausedAt: number;
  /** Who asked (`dashboard`, an operator's name...). */ by: string;
}

/**
 * Pauses `queue` fleet-wide (again, if it is paused already: the time and `by` are replaced).
 * Workers stop starting its messages within about a second.
 * @throws InvalidOptions when `queue` is not a valid queue name
 */
export async function pauseQueue(store: KeyValueStore, queue: string, options: { by?: string } = {}): Promise<void> {
  assertQueueName(queue);
  const pause: QueuePause = { pausedAt: Date.now(), by: options.by ?? "unknown" };
  await store.set(pauseKey(queue), JSON.stringify(pause), PAUSE_TTL);
}

/**
 * Resumes `queue` (nothing happens if it is not paused). Workers start its messages again
 * within about a second.
 * @throws InvalidOptions when `queue` is not a valid queue name
 */
export async function resumeQueue(store: KeyValueStore, queue: string): Promise<void> {
  assertQueueName(queue);
  await store.delete(pauseKey(queue));
}

/** The pause of `queue`, or undefined when it is not paused. A flag another program wrote as plain text counts as a pause by `unknown`. */
export async function queuePause(store: KeyValueStore, queue: string): Promise<QueuePause | undefined> {
  const text = await store.get(pauseKey(queue));
  return text === undefined ? undefined : parsePause(text);
}

/** Which of `queues` are paused: one read per queue, all at once. */
export async function pausedQueues(store: KeyValueStore, queues: Iterable<string>): Promise<Set<string>> {
  const names = [...new Set(queues)];
  const values = await Promise.all(names.map((queue) => store.get(pauseKey(queue))));
  return new Set(names.filter((_, i) => values[i] !== undefined));
}

/** A flag's value as a {@link QueuePause}; anything unreadable is still a pause. */
export function parsePause(text: string): QueuePause {
  try {
    const value = JSON.parse(text) as Partial<QueuePause> | null;
    if (typeof value === "object" && value !== null && typeof value.pausedAt === "number" && typeof value.by === "string") {
      return { pausedAt: value.pausedAt, by: value.by };
    }
  } catch {
    // Not ours: still a pause.
  }
  return { pausedAt: 0, by: "unknown" };
}

/** @throws InvalidOptions unless `period` is 0 (off) or a positive number of ms */
export function checkPausePoll(period: number): number {
  if (!(Number.isFinite(period) && period >= 0)) throw new InvalidOptions(`Worker option pausePoll must be 0 (off) or a positive number of ms, got ${period}`);
  return period;
}
