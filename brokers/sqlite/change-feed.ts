/**
 * How idle consumers and joins learn that the database changed, without busy polling.
 *
 * SQLite has no notifications across processes. Cheap sources cover it:
 * - writes made in this process (any SqliteBroker on the same file) wake waiters at once;
 * - writes made by other processes show in `PRAGMA data_version`, a counter SQLite keeps in the
 *   WAL index (shared memory): reading it touches no table and takes microseconds;
 * - every commit appends to the `-wal` file, so an `fs.watch` on it (inotify, kqueue) says when
 *   to read that counter: other processes' writes wake waiters within a millisecond or so;
 * - in case the file system sends no events (some network or virtual mounts), the counter is also
 *   read on a timer while someone waits: every `min` ms right after a change, backing off by
 *   doubling to `max` ms. Nobody waiting, no timer runs.
 * Delays and leases fall due by time, not by a write: waiters also set a timer for the next due
 * time (see SqliteConsumer.fetch).
 */
import { watch, type FSWatcher } from "node:fs";

type Listener = () => void;

/** Every open feed, by database file, so one broker's writes wake another's waiters in-process. */
const feedsByPath = new Map<string, Set<ChangeFeed>>();

export interface ChangeWait {
  readonly promise: Promise<void>;
  /** Resolves the wait now (interrupt). */
  cancel(): void;
}

export class ChangeFeed {
  readonly #path: string;
  readonly #readVersion: () => number;
  readonly #min: number;
  readonly #max: number;
  /** Waiters by queue name. */
  readonly #listeners = new Map<string, Set<Listener>>();
  #waiters = 0;
  #announced = 0;
  #timer: NodeJS.Timeout | undefined;
  #interval: number;
  #last = 0;
  #closed = false;
  readonly #walPath: string | undefined;
  #watcher: FSWatcher | undefined;

  /** @param walPath the `-wal` file to watch for other processes' commits; undefined to rely on polling */
  constructor(path: string, readVersion: () => number, minInterval: number, maxInterval: number, walPath?: string) {
    this.#path = path;
    this.#walPath = walPath;
    this.#readVersion = readVersion;
    this.#min = minInterval;
    this.#max = maxInterval;
    this.#interval = maxInterval;
    let feeds = feedsByPath.get(path);
    if (feeds === undefined) feedsByPath.set(path, (feeds = new Set()));
    feeds.add(this);
  }

  /**
   * The current version; pass it to `wait` to catch changes made in between. NaN when it cannot
   * be read right now (the file is locked for recovery, or closing): back off and look again.
   */
  version(): number {
    try {
      return this.#readVersion();
    } catch {
      return Number.NaN;
    }
  }

  /** Tells every feed on this file in this process that `queue` changed. */
  announce(queue: string): void {
    const feeds = feedsByPath.get(this.#path);
    if (feeds === undefined) return;
    for (const feed of feeds) feed.#fire(queue);
  }

  /**
   * Resolves on the next change (or at once if the version moved past `seen`), after `ms` at
   * the latest, or on `cancel()`.
   */
  wait(queue: string, seen: number, ms: number): ChangeWait {
    let cancel!: () => void;
    const promise = new Promise<void>((resolve) => {
      if (this.#closed || this.version() !== seen) {
        cancel = () => {};
        resolve();
        return;
      }
      let listeners = this.#listeners.get(queue);
      if (listeners === undefined) this.#listeners.set(queue, (listeners = new Set()));
      const own = listeners;
      const done = () => {
        clearTimeout(timer);
        if (!own.delete(done)) return;
        this.#waiters--;
        if (own.size === 0 && this.#listeners.get(queue) === own) this.#listeners.delete(queue);
        resolve();
      };
      // Ref'd on purpose: a worker waiting for messages keeps its process alive.
      const timer = setTimeout(done, Math.max(0, ms));
      own.add(done);
      this.#waiters++;
      cancel = done;
      this.#startPolling(seen);
    });
    return { promise, cancel };
  }

  /**
   * How many changes this process announced to the feed so far, on any queue: `PRAGMA
   * data_version` does not move for them, so a caller that reads the version before a look and
   * waits after it also compares this, to catch one announced in between.
   */
  get announced(): number {
    return this.#announced;
  }

  /** Wakes the waiters of `queue`, or everyone (a change seen from another process names no queue). */
  #fire(queue?: string): void {
    if (queue !== undefined) this.#announced++;
    if (this.#waiters === 0) return;
    this.#interval = this.#min;
    const sets = queue === undefined ? [...this.#listeners.values()] : [this.#listeners.get(queue)];
    for (const set of sets) if (set !== undefined) for (const listener of [...set]) listener();
  }

  #startPolling(seen: number): void {
    if (this.#walPath !== undefined && this.#watcher === undefined) this.#watch(this.#walPath);
    if (this.#timer !== undefined) return;
    this.#last = seen;
    this.#schedule();
  }

  /** Kept open once started: a worker waits most of the time it is idle. */
  #watch(walPath: string): void {
    try {
      this.#watcher = watch(walPath, { persistent: false }, () => {
        if (this.#waiters === 0 || this.#timer === undefined || this.#check()) return;
        // A commit writes the -wal file before it publishes itself in shared memory: the event
        // may come a moment early. Look again soon rather than at the slow end of the backoff.
        if (this.#interval > this.#min) {
          clearTimeout(this.#timer);
          this.#interval = this.#min;
          this.#schedule();
        }
      });
      this.#watcher.on("error", () => this.#unwatch());
    } catch {
      // No events on this file system: the timer alone will do.
      this.#unwatch();
    }
  }

  #unwatch(): void {
    this.#watcher?.close();
    this.#watcher = undefined;
  }

  #schedule(): void {
    this.#timer = setTimeout(() => this.#poll(), this.#interval);
    this.#timer.unref();
  }

  #poll(): void {
    this.#timer = undefined;
    if (this.#closed || this.#waiters === 0) return;
    if (!this.#check()) this.#interval = Math.min(this.#max, this.#interval * 2);
    if (this.#waiters > 0 && this.#timer === undefined) this.#schedule();
  }

  /** Reads the version; on a change, wakes every waiter. True when it changed. */
  #check(): boolean {
    let version: number;
    try {
      version = this.#readVersion();
    } catch {
      // The connection is closing: wake everyone so they see it.
      this.#fire();
      return true;
    }
    if (version === this.#last) return false;
    this.#last = version;
    this.#fire();
    return true;
  }

  /** Wakes every waiter and stops polling. */
  close(): void {
    this.#closed = true;
    this.#unwatch();
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#fire();
    const feeds = feedsByPath.get(this.#path);
    feeds?.delete(this);
    if (feeds?.size === 0) feedsByPath.delete(this.#path);
  }
}
