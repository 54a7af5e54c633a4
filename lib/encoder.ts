import { DecodeError, EncodeError, MessageTooLarge } from "./errors.ts";
import type { MessageData } from "./message.ts";

/** Turns messages into bytes and back. Brokers call it; it never sees a broker. */
export interface Encoder {
  /** @throws EncodeError for values JSON cannot carry; MessageTooLarge past the limit. */
  encode(data: MessageData): string;
  /** @throws DecodeError for anything that is not a well-formed message; MessageTooLarge past the limit. */
  decode(data: string | Buffer): MessageData;
}

/** Options of {@link JsonEncoder}. */
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
  /** Largest encoded message accepted, in bytes. */
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
    // Bytes are measured before they become text: turning 10 MB into a string that is then
    // refused took about 50 ms of the event loop, each time the body was decoded.
    if (typeof raw !== "string" && raw.length > this.maxSize) throw new MessageTooLarge(raw.length, this.maxSize);
    const text = typeof raw === "string" ? raw : raw.toString("utf8");
    this.#checkSize(text);
    // A producer that skips `send` (raw, Python) can nest deeper than `encode` allows; such a
    // message could never be retried. Parsing a long nested run is itself slow (a 1 MB one
    // blocks for about 200 ms), so long texts are scanned first (a 64 KiB one parses in well under 50 ms however it nests); all are walked after.
    if (text.length > SCAN_FROM && nestedTooDeep(text)) throw new DecodeError(`Message is nested deeper than ${MAX_DEPTH} levels`, text);
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (error) {
      throw new DecodeError(`Message is not valid JSON: ${(error as Error).message}`, text, { cause: error });
    }
    const problem = shapeProblem(value);
    if (problem) throw new DecodeError(`Message has an invalid shape: ${problem}`, text);
    const data = value as MessageData;
    const deep = tooDeep(data.args, "args") ?? tooDeep(data.kwargs, "kwargs") ?? tooDeep(data.options, "options");
    if (deep !== undefined) throw new DecodeError(`Message is nested deeper than ${MAX_DEPTH} levels: ${deep}`, text);
    return data;
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
/** Texts longer than this are scanned for nesting before they are parsed (see `decode`). */
const SCAN_FROM = 64 * 1024;

/**
 * The path of the first container nested `MAX_DEPTH` levels below `root` (as `encode` counts
 * them), or undefined. Only containers are descended into: a flat array of primitives costs
 * one loop, and a path is built only for the error.
 */
function tooDeep(value: unknown, root: string, depth = 0): string | undefined {
  if (typeof value !== "object" || value === null) return undefined;
  if (depth >= MAX_DEPTH) return root;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const item: unknown = value[i];
      if (typeof item !== "object" || item === null) continue;
      const deep = tooDeep(item, "", depth + 1);
      if (deep !== undefined) return `${root}[${i}]${deep}`;
    }
    return undefined;
  }
  for (const key in value) {
    const item = (value as Record<string, unknown>)[key];
    if (typeof item !== "object" || item === null) continue;
    const deep = tooDeep(item, "", depth + 1);
    if (deep !== undefined) return `${root}.${key}${deep}`;
  }
  return undefined;
}

/**
 * True when the JSON text nests deeper than a message may (the envelope and `args` are two
 * levels). One pass over the characters, skipping strings; it stops at the first level too deep.
 */
function nestedTooDeep(text: string): boolean {
  const limit = MAX_DEPTH + 1;
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      // To the closing quote: one not preceded by an odd run of backslashes.
      for (;;) {
        i = text.indexOf('"', i + 1);
        if (i < 0) return false;
        let slashes = 0;
        while (text.charCodeAt(i - 1 - slashes) === 0x5c) slashes++;
        if ((slashes & 1) === 0) break;
      }
    } else if (c === 0x5b || c === 0x7b) {
      if (++depth > limit) return true;
    } else if (c === 0x5d || c === 0x7d) {
      depth--;
    }
  }
  return false;
}

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
      if (path.length >= MAX_DEPTH) throw new EncodeError(tooDeepError(root, top, path));
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
function tooDeepError(root: string, top: unknown, path: readonly (string | number)[]): string {
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
