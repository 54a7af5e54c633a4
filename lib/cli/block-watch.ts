import { closeSync, openSync, readFileSync, writeSync } from "node:fs";
import type { Broker } from "../broker.ts";
import { DramatsError, SkipMessage } from "../errors.ts";
import type { MessageProxy } from "../message-proxy.ts";
import { Middleware, type ProcessWrapper } from "../../middleware/middleware.ts";

/** The message blocked a worker process's event loop, which the supervisor then killed. */
export class EventLoopBlocked extends DramatsError {
  override readonly code = "DRAMATS_ERR_EVENT_LOOP_BLOCKED";
}

/** Fixed-size record: a message id (a UUID is 36 characters) padded with spaces. */
const RECORD = 64;
const IDLE = " ".repeat(RECORD);

/**
 * Catches poison messages that block the event loop. While an actor's synchronous part runs,
 * its message id sits in a small file the supervisor reads when it kills this process for
 * missed heartbeats; the supervisor then tells every worker process, and this middleware
 * dead-letters that message when it is redelivered instead of running it again.
 *
 * One positional write before and one after each call: no reader on the hot path.
 */
export class BlockWatch extends Middleware implements ProcessWrapper {
  readonly #fd: number | undefined;
  readonly #blocked = new Set<string>();

  /** @param file where to record the running message; undefined turns recording off. */
  constructor(file: string | undefined, blocked: Iterable<string> = []) {
    super();
    this.#fd = file === undefined ? undefined : openSync(file, "w");
    for (const id of blocked) this.#blocked.add(id);
  }

  /** Marks messages that blocked a process: they are dead-lettered when they come back. */
  block(ids: Iterable<string>): void {
    for (const id of ids) this.#blocked.add(id);
  }

  beforeProcessMessage(_broker: Broker, proxy: MessageProxy): void {
    if (!this.#blocked.has(proxy.messageId)) return;
    const error = new EventLoopBlocked(
      `Message ${proxy.messageId} (${proxy.actorName}) blocked the event loop of a worker process, which was killed; not running it again`,
    );
    proxy.fail(error);
    throw new SkipMessage(error.message);
  }

  wrapProcessMessage(_broker: Broker, proxy: MessageProxy, call: () => unknown): unknown {
    const fd = this.#fd;
    if (fd === undefined) return call();
    writeSync(fd, proxy.messageId.slice(0, RECORD).padEnd(RECORD), 0, "latin1");
    try {
      return call();
    } finally {
      // The synchronous part is over: whatever blocks later is not this call's prefix.
      writeSync(fd, IDLE, 0, "latin1");
    }
  }

  close(): void {
    if (this.#fd !== undefined) closeSync(this.#fd);
  }
}

/** The message id a process recorded as running synchronously, or undefined. */
export function readRunning(file: string): string | undefined {
  try {
    return readFileSync(file, "latin1").trim() || undefined;
  } catch {
    return undefined;
  }
}
