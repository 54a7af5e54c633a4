/**
 * The scans behind lib/redact.ts: where credentials sit in text, by structure. Hand-written
 * rather than regular expressions: this text is attacker-controlled (message arguments, error
 * messages, broker replies), and the expression it replaces,
 * `/([a-z][a-z0-9+.-]*:\/\/[^\s:@/"'<>]*:)[^\s@/"'<>]+@/gi`, backtracked quadratically (a long
 * run of letters, `://a:`, then a long run without `@`: minutes for 1 MB, blocking the worker
 * that logged it). Each scan below reads every character a bounded number of times, so its
 * cost is linear in the text whatever its shape (spec/redact.spec.ts).
 */

/** Keys whose values are credentials, in connection options and logged objects (compared lowercased). */
export const SECRET_FIELDS: ReadonlySet<string> = new Set(["password", "passwd", "pass", "pwd", "secret", "auth", "authorization", "credentials"]);
/** The longest key in SECRET_FIELDS or command name we compare: longer strings are never lowercased. */
const LONGEST_KEY = 13;

/**
 * `text` with the password of every `scheme://user:password@host` masked. As a URL parser
 * reads it, the userinfo runs to the last `@` before the end of the authority (`/`, `?`, `#`,
 * `\`, whitespace, a quote or `<>`), and the password starts after its first `:`.
 *
 * Linear: the walk back over a scheme stops at `:` or `/`, and the walk forward over an
 * authority stops at `/`, so no character belongs to two walks (the next `://` starts after
 * the `/` that ended this authority). No length cap is needed, so no long password escapes.
 */
export function maskUrlCredentials(text: string, mask: string): string {
  let at = text.indexOf("://");
  if (at === -1) return text;
  const spans = new Spans();
  for (; at !== -1; at = text.indexOf("://", at + 3)) {
    if (!schemeEndsAt(text, at)) continue;
    const start = at + 3;
    let end = start;
    let lastAt = -1;
    for (; end < text.length && !endsAuthority(text.charCodeAt(end)); end++) {
      if (text.charCodeAt(end) === 0x40 /* @ */) lastAt = end;
    }
    if (lastAt === -1) continue;
    let colon = start;
    while (colon < lastAt && text.charCodeAt(colon) !== 0x3a /* : */) colon++;
    if (colon + 1 >= lastAt) continue;
    spans.add(colon + 1, lastAt);
  }
  return replaceSpans(text, spans, mask);
}

/** True when the characters before `at` are a URL scheme: letters, digits, `+.-`, at least one letter. */
function schemeEndsAt(text: string, at: number): boolean {
  for (let i = at - 1; i >= 0; i--) {
    const c = text.charCodeAt(i) | 0x20; // lower case for letters
    if (c >= 0x61 && c <= 0x7a) return true;
    const raw = text.charCodeAt(i);
    if (!((raw >= 0x30 && raw <= 0x39) || raw === 0x2b || raw === 0x2e || raw === 0x2d)) return false;
  }
  return false;
}

/** Characters that end a URL's authority in free text. */
function endsAuthority(c: number): boolean {
  // / ? # \ " ' < >
  if (c === 0x2f || c === 0x3f || c === 0x23 || c === 0x5c || c === 0x22 || c === 0x27 || c === 0x3c || c === 0x3e) return true;
  return c <= 0x20 || c === 0x85 || c === 0xa0 || c === 0x1680 || (c >= 0x2000 && c <= 0x200a) || c === 0x2028 || c === 0x2029 || c === 0x202f || c === 0x205f || c === 0x3000 || c === 0xfeff;
}

/**
 * The index just past the JSON string literal opening at `open` (a `"`), or -1 when it is not
 * closed.
 */
export function readString(text: string, open: number): number {
  for (let i = open + 1; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22) return i + 1;
    if (c === 0x5c) i++;
  }
  return -1;
}

/**
 * `text` (JSON, or text quoting JSON) with credentials masked by position: the string value of a
 * `"password"`-like key, the one or two strings after an `"AUTH"` string (`["AUTH","pw"]`,
 * `["HELLO","3","AUTH","user","pw"]`: the last is the password), and every string of the `args`
 * of a `"name":"auth"` command object.
 */
export function maskSecretFields(text: string, mask: string): string {
  if (!text.includes('"')) return text;
  const spans = new Spans();
  let open = text.indexOf('"');
  while (open !== -1) {
    const close = readString(text, open);
    if (close === -1) break;
    let next = close;
    const word = mightBeKey(text, open, close) ? text.slice(open + 1, close - 1).toLowerCase() : "";
    if (SECRET_FIELDS.has(word)) {
      const value = stringAfter(text, close, 0x3a /* : */);
      if (value !== -1) {
        next = spans.addString(text, value);
      } else if (word === "auth") {
        // `"AUTH", "user", "pw"` in an array (a Redis command): the last of (at most) two strings.
        const first = stringAfter(text, close, 0x2c /* , */);
        const second = first === -1 ? -1 : stringAfter(text, readString(text, first), 0x2c);
        const password = second === -1 ? first : second;
        if (password !== -1) next = spans.addString(text, password);
      }
    } else if (word === "name") {
      const command = stringAfter(text, close, 0x3a);
      const commandEnd = command === -1 ? -1 : readString(text, command);
      if (commandEnd !== -1 && text.slice(command + 1, commandEnd - 1).toLowerCase() === "auth") {
        const end = maskArgs(text, commandEnd, spans);
        if (end !== -1) next = end;
      }
    }
    open = text.indexOf('"', next);
  }
  return replaceSpans(text, spans, mask);
}

/** Cheap test before slicing: a key we look for is short and starts with a, c, n, p or s. */
function mightBeKey(text: string, open: number, close: number): boolean {
  if (close - open - 2 > LONGEST_KEY) return false;
  const first = text.charCodeAt(open + 1) | 0x20;
  return first === 0x61 || first === 0x63 || first === 0x6e || first === 0x70 || first === 0x73;
}

/**
 * After `from`: optional whitespace, `separator`, whitespace, then a closed string literal.
 * @returns the index of that literal's opening quote, or -1.
 */
function stringAfter(text: string, from: number, separator: number): number {
  let i = skipSpace(text, from);
  if (text.charCodeAt(i) !== separator) return -1;
  i = skipSpace(text, i + 1);
  if (text.charCodeAt(i) !== 0x22 || readString(text, i) === -1) return -1;
  return i;
}

/**
 * After a command name ending at `from`: `, "args": [ "a", "b" ]`. Adds each string to `spans`.
 * @returns the index where the array's strings end, or -1 when there is no such array.
 */
function maskArgs(text: string, from: number, spans: Spans): number {
  const key = stringAfter(text, from, 0x2c);
  if (key === -1 || !text.startsWith('"args"', key)) return -1;
  let i = skipSpace(text, key + 6);
  if (text.charCodeAt(i) !== 0x3a) return -1;
  i = skipSpace(text, i + 1);
  if (text.charCodeAt(i) !== 0x5b /* [ */) return -1;
  i = skipSpace(text, i + 1);
  while (text.charCodeAt(i) === 0x22) {
    const close = readString(text, i);
    if (close === -1) return -1;
    spans.add(i + 1, close - 1);
    i = skipSpace(text, close);
    if (text.charCodeAt(i) !== 0x2c) break;
    i = skipSpace(text, i + 1);
  }
  return i;
}

function skipSpace(text: string, from: number): number {
  let i = from;
  while (i < text.length) {
    const c = text.charCodeAt(i);
    if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) break;
    i++;
  }
  return i;
}

/**
 * `text` with every occurrence of `secret` masked (left to right, not overlapping) or, with
 * `stringsOnly`, only those inside a JSON string literal: masking elsewhere could change a
 * number or a keyword and break the JSON.
 */
export function maskOccurrences(text: string, secret: string, mask: string, stringsOnly: boolean): string {
  let at = text.indexOf(secret);
  if (at === -1) return text;
  const spans = new Spans();
  // With stringsOnly, [open, close) is the string literal (quotes included) that ends after the
  // occurrence; open is -1 once there are none left. Occurrences and literals both only move
  // forward, so the walk is linear.
  let open = 0;
  let close = 0;
  let lastEnd = 0;
  for (; at !== -1; at = text.indexOf(secret, at + secret.length)) {
    if (stringsOnly) {
      while (open !== -1 && close <= at) {
        open = text.indexOf('"', close);
        if (open === -1) break;
        const end = readString(text, open);
        close = end === -1 ? text.length + 1 : end;
      }
      if (open === -1 || at <= open || at + secret.length > close - 1) continue;
      // Right after the backslash of an escape (`\n` then the rest of the text) it is not the
      // secret but the tail of another character, and masking it would break the escape. The
      // backslashes counted never go back past the previous occurrence: linear still.
      let backslashes = 0;
      for (let i = at - 1; i > Math.max(open, lastEnd - 1) && text.charCodeAt(i) === 0x5c; i--) backslashes++;
      if (backslashes % 2 === 1) continue;
    }
    spans.add(at, at + secret.length);
    lastEnd = at + secret.length;
  }
  return replaceSpans(text, spans, mask);
}

/**
 * The `[from, to)` ranges to mask, in order and not overlapping. A typed array: adversarial text
 * can hold a hundred thousand of them per megabyte, and a plain array of numbers costs several
 * times more to fill.
 */
export class Spans {
  #data = new Int32Array(16);
  length = 0;

  add(from: number, to: number): void {
    if (this.length + 2 > this.#data.length) {
      const grown = new Int32Array(this.#data.length * 2);
      grown.set(this.#data);
      this.#data = grown;
    }
    this.#data[this.length++] = from;
    this.#data[this.length++] = to;
  }

  /** Adds the contents of the (closed) string literal opening at `open`; returns the index past it. */
  addString(text: string, open: number): number {
    const close = readString(text, open);
    this.add(open + 1, close - 1);
    return close;
  }

  at(index: number): number {
    return this.#data[index]!;
  }
}

/** Up to this many masks, slices are joined; beyond, the output is written into one buffer, which is cheaper. */
const FEW_SPANS = 64;

/** `text` with each span replaced by `mask`. */
export function replaceSpans(text: string, spans: Spans, mask: string): string {
  if (spans.length === 0) return text;
  if (spans.length <= FEW_SPANS * 2) {
    const parts: string[] = [];
    let copied = 0;
    for (let i = 0; i < spans.length; i += 2) {
      parts.push(text.slice(copied, spans.at(i)), mask);
      copied = spans.at(i + 1);
    }
    parts.push(text.slice(copied));
    return parts.join("");
  }
  let size = text.length;
  for (let i = 0; i < spans.length; i += 2) size += mask.length - (spans.at(i + 1) - spans.at(i));
  // Most text is Latin-1: one byte a character keeps the output a one-byte string, half the
  // memory for every scan after this one. Anything wider is written again as UTF-16.
  const narrow = new Uint8Array(size);
  if (writeSpans(text, spans, mask, narrow)) return Buffer.from(narrow.buffer, narrow.byteOffset, narrow.byteLength).toString("latin1");
  const wide = new Uint16Array(size);
  writeSpans(text, spans, mask, wide);
  // UTF-16 code units as they were, lone surrogates included.
  return Buffer.from(wide.buffer, wide.byteOffset, wide.byteLength).toString("utf16le");
}

/** Writes `text` with the spans masked into `out`; false (unfinished) when a character does not fit a byte of a Uint8Array. */
function writeSpans(text: string, spans: Spans, mask: string, out: Uint8Array | Uint16Array): boolean {
  const limit = out instanceof Uint8Array ? 0xff : 0xffff;
  let written = 0;
  let read = 0;
  for (let i = 0; i <= spans.length; i += 2) {
    const end = i < spans.length ? spans.at(i) : text.length;
    for (; read < end; read++) {
      const c = text.charCodeAt(read);
      if (c > limit) return false;
      out[written++] = c;
    }
    if (i === spans.length) break;
    for (let k = 0; k < mask.length; k++) out[written++] = mask.charCodeAt(k);
    read = spans.at(i + 1);
  }
  return true;
}
