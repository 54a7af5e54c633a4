import { ERROR_CLASSES } from "../errors.ts";
import type { MessageData } from "../message.ts";

/** What the main thread sends a pool thread: which actor to run, for which message. */
export interface ThreadTask {
  actorName: string;
  args: unknown[];
  message: MessageData;
}

/** Asks a thread to finish importing the modules, so the first real task does not wait for it. */
export interface WarmUpTask {
  warmUp: true;
}

/**
 * An error as it crosses a thread boundary. Structured cloning keeps only name, message and
 * stack, so the class chain and own fields (`code`, `delay`...) travel explicitly.
 */
export interface SerializedError {
  name: string;
  message: string;
  stack: string | undefined;
  /** Constructor names from the error's class up to Error, to find a matching class again. */
  classes: string[];
  /** Own enumerable fields that survive JSON. */
  fields: Record<string, unknown>;
  cause?: SerializedError;
}

/** A thread's answer. Failures are values, not rejections, so nothing is lost on the way. */
export type ThreadOutcome = { ok: true; result: unknown } | { ok: false; error: SerializedError };

export function serializeError(error: unknown, depth = 0): SerializedError {
  if (!(error instanceof Error)) {
    return { name: "Error", message: String(error), stack: undefined, classes: ["Error"], fields: {} };
  }
  const classes: string[] = [];
  for (let proto = Object.getPrototypeOf(error); proto && proto !== Object.prototype; proto = Object.getPrototypeOf(proto)) {
    const name = (proto as { constructor?: { name?: string } }).constructor?.name;
    if (name) classes.push(name);
  }
  const fields: Record<string, unknown> = {};
  for (const key of Object.keys(error)) {
    if (key === "cause") continue;
    try {
      const value = (error as unknown as Record<string, unknown>)[key];
      if (value !== undefined) fields[key] = JSON.parse(JSON.stringify(value));
    } catch {
      // Not JSON-safe: dropped, the name and message still say what happened.
    }
  }
  const out: SerializedError = { name: error.name, message: error.message, stack: error.stack, classes, fields };
  if (error.cause !== undefined && depth < 3) out.cause = serializeError(error.cause, depth + 1);
  return out;
}

type ErrorClass = abstract new (...args: never[]) => unknown;

const KNOWN: ReadonlyMap<string, ErrorClass> = new Map<string, ErrorClass>(
  [...ERROR_CLASSES, TypeError, RangeError, SyntaxError, ReferenceError, EvalError, URIError].map((cls) => [cls.name, cls]),
);

/**
 * Rebuilds an error on this side. Its prototype is the first class of its chain found among
 * `candidates` (such as an actor's `throws` list) or dramats' own error classes, so
 * `instanceof` checks in middleware keep working; otherwise a plain Error with the same name.
 */
export function deserializeError(data: SerializedError, candidates: readonly ErrorClass[] = []): Error {
  let proto: object = Error.prototype;
  outer: for (const name of data.classes) {
    for (const cls of candidates) {
      if (cls.name === name) {
        proto = cls.prototype as object;
        break outer;
      }
    }
    const known = KNOWN.get(name);
    if (known) {
      proto = known.prototype as object;
      break;
    }
  }
  const error = Object.create(proto) as Error;
  Object.defineProperty(error, "message", { value: data.message, writable: true, configurable: true });
  Object.defineProperty(error, "stack", { value: data.stack, writable: true, configurable: true });
  Object.assign(error, data.fields);
  if (error.name !== data.name) Object.defineProperty(error, "name", { value: data.name, writable: true, configurable: true, enumerable: false });
  if (data.cause) Object.defineProperty(error, "cause", { value: deserializeError(data.cause, candidates), writable: true, configurable: true });
  return error;
}
