import type { PauseStore } from "./pause-poller.ts";

/** Options of {@link Worker}. */
export interface WorkerOptions {
  /** Canonical names of the queues to consume. @defaultValue every declared queue, including later ones */
  queues?: Iterable<string>;
  /** Actors running at once in this worker (async actors share the event loop). @defaultValue 8 */
  concurrency?: number;
  /**
   * Unacknowledged deliveries each queue's consumer may hold, running ones included.
   * @defaultValue adaptive: 2 × concurrency, or more while this worker is finishing messages
   * quickly: as many as it finished in the last 10 ms or so (at most 1024)
   */
  prefetch?: number;
  /** Longest a fetch waits for messages before looping (ms). @defaultValue 1000 */
  fetchTimeout?: number;
  /**
   * A consumer with room for messages that fetched nothing for this long while its queue has
   * ready messages is logged as stalled and replaced by a new one (ms); 0 turns this off. @defaultValue 30000
   */
  stallTimeout?: number;
  /**
   * How often the fleet-wide queue pauses are read (ms; see lib/queue-pauses.ts): while a queue
   * is paused, the worker fetches none of its messages and gives back what it prefetched. 0 turns
   * this off. A store that announces its changes (the PostgreSQL broker's own) is read when a flag
   * changes, and otherwise every 5000 ms or this period if longer.
   * @defaultValue 500 when there is a store (`pauseStore`, else the broker's own)
   */
  pausePoll?: number;
  /** Where the pause flags are read: a store, or a function opening one. @defaultValue the broker's store (none on RabbitMQ: pass one) */
  pauseStore?: PauseStore;
}
