import { DecodeError, EncodeError, MessageTooLarge } from "./errors.ts";
import type { MessageData } from "./message.ts";

/** Turns messages into bytes and back. Brokers call it; it never sees a broker. */
export interface Encoder {
  /** @throws EncodeError for values JSON cannot carry; MessageTooLarge past the limit. */
  encode(data: MessageData): string;
  /** @throws DecodeError for anything that is not a well-formed message; MessageTooLarge past the limit. */
  decode(data: string | Buffer): MessageData;
}

export interface JsonEncoderOptions {
  /**
   * Largest encoded message accepted, in bytes, on both send and receive.
   * @defaultValue 1 MiB, or `DRAMATS_MAX_MESSAGE_SIZE`
   */
  maxSize?: number;
}

const DEFAULT_MAX_SIZE = 1024 * 1024;

/**
 * Dramatiq's wire format: compact UTF-8 JSON with the fields in dataclass order.
 * Only JSON values are accepted, so no code ever travels in a message.
 */
export class JsonEncoder implements Encoder {
  readonly maxSize: number;

  constructor(options: JsonEncoderOptions = {}) {
    const fromEnv = Number(process.env.DRAMATS_MAX_MESSAGE_SIZE);
    this.maxSize = options.maxSize ?? (Number.isFinite(fromEnv) && fromEnv > 0 ? fromEnv : DEFAULT_MAX_SIZE);
    if (!Number.isInteger(this.maxSize) || this.maxSize <= 0) {
      throw new RangeError(`JsonEncoder maxSize must be a positive integer, got ${this.maxSize}`);
    }
  }

  encode(data: MessageData): string {
    assertJson(data.args, "args", data.args);
    assertJson(data.kwargs, "kwargs", data.kwargs);
    assertJson(data.options, "options", data.options);
    const text = JSON.stringify({
      queue_name: data.queue_name,
      actor_name: data.actor_name,
      args: data.args,
      kwargs: data.kwargs,
      options: data.options,
      message_id: data.message_id,
      message_timestamp: data.message_timestamp,
    });
    this.#checkSize(text);
    return text;
  }

  decode(raw: string | Buffer): MessageData {
    const text = typeof raw === "string" ? raw : raw.toString("utf8");
    this.#checkSize(text);
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (error) {
      throw new DecodeError(`Message is not valid JSON: ${(error as Error).message}`, text, { cause: error });
    }
    const problem = shapeProblem(value);
    if (problem) throw new DecodeError(`Message has an invalid shape: ${problem}`, text);
    return value as MessageData;
  }

  #checkSize(text: string): void {
    // A UTF-8 string takes at most 3 bytes per UTF-16 unit: skip the exact count when clearly small.
    if (text.length * 3 <= this.maxSize) return;
    const size = Buffer.byteLength(text, "utf8");
    if (size > this.maxSize) throw new MessageTooLarge(size, this.maxSize);
  }
}

function shapeProblem(value: unknown): string | undefined {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return "not a JSON object";
  const v = value as Record<string, unknown>;
  if (typeof v.queue_name !== "string" || v.queue_name === "") return "queue_name must be a non-empty string";
  if (typeof v.actor_name !== "string" || v.actor_name === "") return "actor_name must be a non-empty string";
  if (!Array.isArray(v.args)) return "args must be an array";
  if (v.kwargs === undefined || v.kwargs === null) v.kwargs = {};
  if (!isPlainObject(v.kwargs)) return "kwargs must be an object";
  if (v.options === undefined || v.options === null) v.options = {};
  if (!isPlainObject(v.options)) return "options must be an object";
  if (typeof v.message_id !== "string" || v.message_id === "") return "message_id must be a non-empty string";
  if (typeof v.message_timestamp !== "number" || !Number.isFinite(v.message_timestamp)) {
    return "message_timestamp must be a number (epoch ms)";
  }
  return undefined;
}

/** True for an object literal (or `Object.create(null)`), not an array, class instance or null. */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

const MAX_DEPTH = 128;

/**
 * @throws EncodeError naming the path of the first value JSON would drop or mangle.
 * `path` holds the keys walked so far; it becomes text only for the error, so a valid message
 * costs no string per element.
 */
function assertJson(value: unknown, root: string, top: unknown, path: (string | number)[] = []): void {
  switch (typeof value) {
    case "string":
    case "boolean":
      return;
    case "number":
      if (Number.isFinite(value)) return;
      throw new EncodeError(`${pathText(root, path)} is ${value}, which JSON cannot represent`);
    case "object": {
      if (value === null) return;
      if (path.length >= MAX_DEPTH) throw new EncodeError(tooDeep(root, top, path));
      if (Array.isArray(value)) {
        for (let i = 0; i < value.length; i++) {
          const item: unknown = value[i];
          // Primitives need no path and no call.
          if (typeof item === "string" || typeof item === "boolean" || (typeof item === "number" && Number.isFinite(item)) || item === null) continue;
          path.push(i);
          assertJson(item, root, top, path);
          path.pop();
        }
        return;
      }
      if (!isPlainObject(value)) {
        const kind = (value as object).constructor?.name ?? "object";
        throw new EncodeError(`${pathText(root, path)} is a ${kind}; only plain objects, arrays and primitives can be sent`);
      }
      for (const key in value) {
        const item = (value as Record<string, unknown>)[key];
        // undefined properties are dropped by JSON, just as an optional field left out would be.
        if (item === undefined || typeof item === "string" || typeof item === "boolean" || (typeof item === "number" && Number.isFinite(item)) || item === null) continue;
        path.push(key);
        assertJson(item, root, top, path);
        path.pop();
      }
      return;
    }
    default:
      throw new EncodeError(`${pathText(root, path)} is ${value === undefined ? "undefined" : `a ${typeof value}`}, which cannot be sent as JSON`);
  }
}

/**
 * The error for a value nested `MAX_DEPTH` deep: a cycle when an object on the path contains
 * itself (named by the two paths that reach it), else the depth, with the path shortened.
 * Runs only on the error path, so walking from the top again costs a valid message nothing.
 */
function tooDeep(root: string, top: unknown, path: readonly (string | number)[]): string {
  const seen = new Map<unknown, number>();
  let node = top;
  for (let depth = 0; depth <= path.length; depth++) {
    const first = seen.get(node);
    if (first !== undefined) {
      return `${pathText(root, path.slice(0, depth))} is ${pathText(root, path.slice(0, first))} again: the value is cyclic, which JSON cannot represent`;
    }
    seen.set(node, depth);
    if (depth < path.length) node = (node as Record<string | number, unknown>)[path[depth]!];
  }
  const shown = path.length > 8 ? [...path.slice(0, 4), `…${path.length - 6} more…`, ...path.slice(-2)] : path;
  return `${pathText(root, shown)} is nested deeper than ${MAX_DEPTH} levels`;
}

/** `args`, [0, "when"] → `args[0].when`. */
function pathText(root: string, path: readonly (string | number)[]): string {
  let text = root;
  for (const key of path) text += typeof key === "number" ? `[${key}]` : `.${key}`;
  return text;
}

let globalEncoder: Encoder = new JsonEncoder();

/** The encoder brokers use unless given one. */
export function getEncoder(): Encoder {
  return globalEncoder;
}

/** Replaces the global encoder (before brokers are created). */
export function setEncoder(encoder: Encoder): void {
  globalEncoder = encoder;
}
