// The ledger: what every worker process ran, in files no fault touches. Each process appends
// to its own file with O_APPEND and one write(2) per line: once the write returned, the line is
// in the kernel's page cache and survives a SIGKILL of the process a microsecond later. A run
// recorded and then killed before its ack is exactly a duplicate candidate, and is counted.
import { closeSync, openSync, readdirSync, readSync, writeSync } from "node:fs";
import { join } from "node:path";

/** One ledger line: a run started (`S`) or finished (`E`), by which process, when (epoch ms). */
export interface LedgerEvent {
  readonly kind: "S" | "E";
  readonly id: string;
  readonly at: number;
  readonly pid: number;
}

const FILE = /^ledger-\d+\.log$/;

/** Appends this process's runs to `<dir>/ledger-<pid>.log`. */
export class LedgerWriter {
  readonly #fd: number;

  constructor(dir: string) {
    this.#fd = openSync(join(dir, `ledger-${process.pid}.log`), "a");
  }

  record(kind: LedgerEvent["kind"], id: string): void {
    writeSync(this.#fd, `${kind} ${id} ${Date.now()} ${process.pid}\n`);
  }
}

/** Reads every process's ledger file in a folder, returning only what is new on each call. */
export class LedgerReader {
  readonly #offsets = new Map<string, number>();
  readonly #partial = new Map<string, string>();
  readonly #buffer = new Uint8Array(1 << 20);

  constructor(readonly dir: string) {}

  poll(): LedgerEvent[] {
    const events: LedgerEvent[] = [];
    for (const name of readdirSync(this.dir).filter((n) => FILE.test(n))) {
      const fd = openSync(join(this.dir, name), "r");
      try {
        let offset = this.#offsets.get(name) ?? 0;
        let text = this.#partial.get(name) ?? "";
        for (;;) {
          const read = readSync(fd, this.#buffer, 0, this.#buffer.length, offset);
          if (read === 0) break;
          offset += read;
          text += Buffer.from(this.#buffer.buffer, 0, read).toString("utf8");
        }
        this.#offsets.set(name, offset);
        const lines = text.split("\n");
        // A line a process is writing right now is finished on a later poll.
        this.#partial.set(name, lines.pop()!);
        for (const line of lines) {
          const [kind, id, at, pid] = line.split(" ");
          if ((kind === "S" || kind === "E") && id !== undefined) events.push({ kind, id, at: Number(at), pid: Number(pid) });
        }
      } finally {
        closeSync(fd);
      }
    }
    return events;
  }
}
