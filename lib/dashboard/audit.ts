// One log line per dashboard action: who (the operator session, by a short id, and the client's
// address), what, on which target, and how many messages, workers or schedules it changed.
import type { IncomingMessage } from "node:http";
import { getLogger, type Logger } from "../logging.ts";

/** What an audit line records. */
export interface AuditEntry {
  action: string;
  target: string;
  count: number;
  /** Set when the action failed. */
  error?: string;
}

export class AuditLog {
  readonly #log: Logger;

  constructor(logger: Logger = getLogger("dashboard.audit")) {
    this.#log = logger;
  }

  /** Writes the line at info (warn for a failed action). */
  record(request: IncomingMessage, session: string, entry: AuditEntry): void {
    const who = { session: session.slice(0, 8), address: request.socket.remoteAddress ?? "unknown", userAgent: (request.headers["user-agent"] ?? "").slice(0, 120) };
    const fields = { audit: true, who, ...entry };
    if (entry.error === undefined) this.#log.info(fields, `Dashboard action: ${entry.action} ${entry.target} (${entry.count})`);
    else this.#log.warn(fields, `Dashboard action failed: ${entry.action} ${entry.target}: ${entry.error}`);
  }
}
