import { InvalidOptions } from "./errors.ts";

/** Dramatiq's rule for queue names (it must match the whole name). */
const QUEUE_NAME = /^[a-zA-Z_][a-zA-Z0-9._-]*$/;

/** @throws InvalidOptions when `name` is not a valid queue name. */
export function assertQueueName(name: string): void {
  if (!QUEUE_NAME.test(name)) {
    throw new InvalidOptions(`Queue name ${JSON.stringify(name)} is invalid: it must match ${QUEUE_NAME.source}`);
  }
}

/** The canonical queue a (possibly delay or dead-letter) queue name belongs to. */
export function canonicalQueueName(name: string): string {
  return name.endsWith(".DQ") || name.endsWith(".XQ") ? name.slice(0, -3) : name;
}

/** `emails` → `emails.DQ`: where Dramatiq keeps delayed messages. */
export function delayQueueName(name: string): string {
  return `${canonicalQueueName(name)}.DQ`;
}

/** `emails` → `emails.XQ`: the dead-letter queue. */
export function deadLetterQueueName(name: string): string {
  return `${canonicalQueueName(name)}.XQ`;
}
