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
    createInterface({ input: stream, crlfDelay: Infinity }).on("line", (line) => {
      echo?.write(`${line}\n`);
      try {
        writeSync(this.#fd, `${line}\n`);
      } catch {
        // The disk is full or the file vanished: dropping a log line beats crashing the supervisor.
      }
    });
  }

  close(): void {
    try {
      closeSync(this.#fd);
    } catch {
      // Already closed.
    }
  }
}
