/**
 * Keeps broker passwords out of logs, errors and operator output. `connect`/`brokerFromUrl` and
 * the CLI register the password of every URL they open; the root logger passes each line
 * through `redactJson` and the CLI prints through `redact`.
 *
 * Passwords are masked by structure, whatever their length: the password part of any URL, the
 * string value of a `password`-like field, the credentials after `AUTH` in a Redis command (alone
 * or inside `HELLO 3 AUTH user password`), and (in logged errors, see `scrubSecrets`) the
 * arguments of Redis `AUTH`/`HELLO` commands. A registered password is also masked wherever it
 * appears, but only from FULL_TEXT_MIN characters on: masking every `a` or `true` would make the
 * output unreadable. In JSON (`redactJson`) that full-text masking happens inside string
 * literals only, so a numeric password cannot turn a number into invalid JSON.
 *
 * Everything here sees attacker-controlled text (message arguments, error messages, broker
 * replies), so every scan is linear in the text's length (spec/redact.spec.ts holds it to that).
 */
import { maskOccurrences, maskSecretFields, maskUrlCredentials, SECRET_FIELDS } from "./redact-scan.ts";

/** Shorter registered secrets are masked only where the structure says they are secrets. */
const FULL_TEXT_MIN = 6;
const MASK = "***";

/** Registered secrets, as they appear in plain text (raw and percent-decoded). */
const textForms = new Set<string>();
/** The same, as they appear inside a JSON string literal. */
const jsonForms = new Set<string>();

/** Registers a secret (with its percent-decoded form) to mask wherever it appears in output. */
export function addSecret(secret: string): void {
  for (const form of [secret, safeDecode(secret)]) {
    if (form.length < FULL_TEXT_MIN || form === MASK) continue;
    textForms.add(form);
    jsonForms.add(JSON.stringify(form).slice(1, -1));
  }
}

/** Registers the password of `url`, if it has one. */
export function addUrlSecret(url: string): void {
  try {
    const password = new URL(url).password;
    if (password) addSecret(password);
  } catch {
    // Not a URL: nothing to register.
  }
}

/** `url` with its password replaced by `***`, for logs and the boot line. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = MASK;
    return parsed.href;
  } catch {
    return redact(url);
  }
}

/** Plain `text` (a message for people) with passwords masked. Cheap when there is nothing to mask. */
export function redact(text: string): string {
  let out = maskSecretFields(maskUrlCredentials(text, MASK), MASK);
  for (const form of textForms) out = maskOccurrences(out, form, MASK, false);
  for (const form of jsonForms) out = maskOccurrences(out, form, MASK, false);
  return out;
}

/**
 * One JSON document (a log line, `--json` output) with passwords masked; stays valid JSON
 * (the masks replace string contents only).
 */
export function redactJson(json: string): string {
  let out = maskSecretFields(maskUrlCredentials(json, MASK), MASK);
  for (const form of jsonForms) out = maskOccurrences(out, form, MASK, true);
  return out;
}

/** Redis commands whose arguments carry credentials. */
const CREDENTIAL_COMMANDS = new Set(["auth", "hello"]);

/**
 * A copy of `value` (a serialised error, a logged object) with credentials removed by structure:
 * the `args` of a Redis `AUTH`/`HELLO` command object (`{ name: "hello", args: [...] }`, as
 * ioredis attaches to its errors) are dropped, and `password`-like fields become `***`.
 */
export function scrubSecrets(value: unknown, depth = 0): unknown {
  if (value === null || typeof value !== "object" || depth > 8) return value;
  if (Array.isArray(value)) return value.map((item) => scrubSecrets(item, depth + 1));
  const source = value as Record<string, unknown>;
  const isCredentialCommand = typeof source.name === "string" && CREDENTIAL_COMMANDS.has(source.name.toLowerCase()) && "args" in source;
  const copy: Record<string, unknown> = {};
  for (const key of Object.keys(source)) {
    if (isCredentialCommand && key === "args") continue;
    const item = source[key];
    copy[key] = SECRET_FIELDS.has(key.toLowerCase()) && item !== undefined && item !== null ? MASK : scrubSecrets(item, depth + 1);
  }
  return copy;
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}
