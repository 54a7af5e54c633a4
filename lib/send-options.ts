import type { Broker } from "./broker.ts";
import { isPlainObject } from "./encoder.ts";
import { InvalidOptions } from "./errors.ts";

/**
 * Run-time checks of the options a caller hands to `sendWithOptions`, `messageWithOptions`,
 * `sendMany` and `run()`. TypeScript catches these at compile time; plain JavaScript callers
 * (and `any`) get an InvalidOptions naming the field at send instead of a message that
 * misbehaves later (a NaN delay, a typo'd option silently dropped).
 */

/** The fields of `SendOptions` that are not per-message overrides. */
const SEND_FIELDS = ["args", "kwargs", "delay", "options", "db"] as const;

/** Per-message overrides every broker accepts, whatever its middleware. */
const CORE_MESSAGE_OPTIONS = ["priority"] as const;

/** A value as it appears in an error message (JSON where possible, so strings show their quotes). */
export function showValue(value: unknown): string {
  if (typeof value === "number" || value === undefined || typeof value === "function" || typeof value === "symbol") return String(value);
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

/** True for a usable delay: a non-negative integer number of ms. */
function isDelay(value: unknown): boolean {
  return Number.isInteger(value) && (value as number) >= 0;
}

function badDelay(subject: string, delay: unknown): InvalidOptions {
  return new InvalidOptions(`${subject}: \`delay\` must be a non-negative integer (ms), got ${showValue(delay)}`);
}

// Error text is built only when something is wrong: these checks run on every send.
function actorSubject(actorName: string): string {
  return `Actor ${JSON.stringify(actorName)}`;
}

/**
 * Checks one `SendOptions` field or per-message override of `actorName`'s by name.
 * Overrides a middleware reads are accepted only when that middleware is on `broker` (as actor
 * options are at declaration); with no broker yet, such names are left to the send.
 * @throws InvalidOptions naming the field.
 */
export function checkSendOption(key: string, value: unknown, broker: Broker | undefined, actorName: string): void {
  switch (key) {
    case "args":
      if (!Array.isArray(value)) throw new InvalidOptions(`${actorSubject(actorName)}: \`args\` must be an array, got ${showValue(value)}`);
      return;
    case "kwargs":
    case "options":
      if (value !== undefined && !isPlainObject(value)) {
        throw new InvalidOptions(`${actorSubject(actorName)}: \`${key}\` must be a plain object, got ${showValue(value)}`);
      }
      return;
    case "delay":
      if (value !== undefined && !isDelay(value)) throw badDelay(actorSubject(actorName), value);
      return;
    case "priority":
      if (value !== undefined && !Number.isFinite(value)) {
        throw new InvalidOptions(`${actorSubject(actorName)}: \`priority\` must be a finite number, got ${showValue(value)}`);
      }
      return;
  }
  if (broker === undefined) return;
  for (const middleware of broker.middleware) if (middleware.messageOptions.has(key)) return;
  throw new InvalidOptions(
    `${actorSubject(actorName)}: unknown send option ${key}; valid options are: ${validSendOptions(broker).join(", ")} ` +
      "(a middleware's options need that middleware on the broker)",
  );
}

/** An InvalidOptions for `actorName`: "Actor \"name\": <what>, got <value>". */
export function invalidSendOptions(actorName: string, what: string, value: unknown): InvalidOptions {
  return new InvalidOptions(`${actorSubject(actorName)}: ${what}, got ${showValue(value)}`);
}

function validSendOptions(broker: Broker): string[] {
  const names = new Set<string>([...SEND_FIELDS, ...CORE_MESSAGE_OPTIONS]);
  for (const middleware of broker.middleware) for (const name of middleware.messageOptions) names.add(name);
  return [...names].sort();
}

/**
 * The delay `broker.enqueue` is given, as adapters use it: negative ones clamped to 0 (a
 * computed delay may land in the past).
 * @throws InvalidOptions unless `delay` is undefined or a finite number.
 */
export function enqueueDelay(delay: unknown): number {
  if (delay === undefined) return 0;
  if (typeof delay !== "number" || !Number.isFinite(delay)) {
    throw new InvalidOptions(`enqueue: \`delay\` must be a finite number of ms, got ${showValue(delay)}`);
  }
  return delay > 0 ? delay : 0;
}

/** @throws InvalidOptions for a bad delay or any option `run()` does not know. */
export function checkRunOptions(options: object): void {
  for (const key in options) {
    const value = (options as Record<string, unknown>)[key];
    if (key !== "delay") throw new InvalidOptions(`run(): unknown run option ${key}; valid options are: delay`);
    if (value !== undefined && !isDelay(value)) throw badDelay("run()", value);
  }
}
