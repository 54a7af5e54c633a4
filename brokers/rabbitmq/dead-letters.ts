import type { GetMessage } from "amqplib";
import type { DeadLetter } from "../../lib/broker.ts";

/** Header names a dead letter carries in `q.XQ` (set by dramats when it dead-letters). */
export const REASON_HEADER = "x-dramats-reason";
export const DEAD_AT_HEADER = "x-dramats-dead-at";
export const DEAD_ID_HEADER = "x-dramats-id";
/** A delayed message's eta (epoch ms), for the wait metric; Python's consumers ignore headers. */
export const ETA_HEADER = "x-dramats-eta";

interface XDeath {
  reason?: unknown;
  queue?: unknown;
  time?: unknown;
}

/**
 * Reads one message of `q.XQ` as a DeadLetter. dramats writes the reason, time and id in its
 * own headers; a message Python Dramatiq dead-lettered (basic.nack → `x-dead-letter-routing-key`)
 * has only RabbitMQ's `x-death`, whose reason (`rejected`, `expired`...) stands in.
 */
export function readDeadLetter(message: GetMessage, decodeId: (body: Buffer) => string): DeadLetter {
  const headers = (message.properties.headers ?? {}) as Record<string, unknown>;
  const death = Array.isArray(headers["x-death"]) ? (headers["x-death"][0] as XDeath | undefined) : undefined;

  let reason = headers[REASON_HEADER];
  if (typeof reason !== "string") {
    reason = death ? `${String(death.reason ?? "dead-lettered")} in ${String(death.queue ?? "?")} (x-death)` : "unknown";
  }

  let deadAt = Number(headers[DEAD_AT_HEADER]);
  if (!Number.isFinite(deadAt)) {
    // AMQP timestamps are seconds.
    const time = death?.time;
    const seconds = typeof time === "number" ? time : typeof (time as { value?: unknown })?.value === "number" ? (time as { value: number }).value : NaN;
    deadAt = Number.isFinite(seconds) ? seconds * 1000 : 0;
  }

  let id = headers[DEAD_ID_HEADER];
  if (typeof id !== "string") {
    try {
      id = decodeId(message.content);
    } catch {
      id = "";
    }
  }

  return { id: id as string, body: message.content.toString("utf8"), reason: reason as string, deadAt };
}
