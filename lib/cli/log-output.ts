import { closeSync, openSync, writeSync } from "node:fs";
import { createInterface } from "node:readline";
import type { Readable, Writable } from "node:stream";
import { pino } from "pino";
import type { DestinationStream } from "pino";

/**
 * Where the supervisor's logs and its children's output go with `--log-file`: one file
 * descriptor in append mode, written synchronously a whole line at a time, so lines from
 * different processes never interleave.
 */
export class LogFile {
  readonly #fd: number;
  /** One per relayed stream, settled once every line of it is in the file. */
  readonly #relays = new Set<Promise<void>>();

  /** @throws the fs error when the file cannot be opened. */
  constructor(readonly path: string) {
    this.#fd = openSync(path, "a", 0o644);
  }

  /** A pino destination writing to this file. */
  destination(): DestinationStream {
    return pino.destination({ fd: this.#fd, sync: true });
  }

  /** Copies a child's output stream into the file, line by line, and to `echo` if given. */
  relay(stream: Readable | null | undefined, echo?: Writable): void {
    if (!stream) return;
    const lines = createInterface({ input: stream, crlfDelay: Infinity });
    lines.on("line", (line) => {
      echo?.write(`${line}\n`);
      try {
        writeSync(this.#fd, `${line}\n`);
      } catch {
        // The disk is full or the file vanished: dropping a log line beats crashing the supervisor.
      }
    });
    const done: Promise<void> = new Promise<void>((resolve) => lines.once("close", resolve)).then(() => void this.#relays.delete(done));
    this.#relays.add(done);
  }

  /**
   * Resolves once every relayed stream ended and its last lines are in the file, or after
   * `timeout` ms (a grandchild may hold a pipe open). A child's `exit` event can come before
   * the end of its output is read: closing the file at once could drop its last lines.
   */
  async drained(timeout = 2_000): Promise<void> {
    if (this.#relays.size === 0) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([Promise.all(this.#relays), new Promise((resolve) => (timer = setTimeout(resolve, timeout)))]);
    clearTimeout(timer);
  }

  close(): void {
    try {
      closeSync(this.#fd);
    } catch {
      // Already closed.
    }
  }
}
