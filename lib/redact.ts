/**
 * Keeps broker passwords out of logs and error output. `connect`/`brokerFromUrl` register the
 * password of every URL they open, and the root logger passes each line through `redact`, so a
 * password that reaches a log line some other way (a driver error quoting its AUTH command, a
 * URL in a message) is masked too.
 */

/**
 * Shorter secrets are masked inside URLs only: masking every "true" or "queue" in a JSON log
 * line would garble it.
 */
const MIN_SECRET_LENGTH = 6;
const MASK = "***";

const secrets = new Set<string>();
/** `scheme://user:password@` in free text; the password part stops at the first `@`, `/`, space or quote. */
const URL_CREDENTIALS = /([a-z][a-z0-9+.-]*:\/\/[^\s:@/"'<>]*:)[^\s@/"'<>]+@/gi;

/** Registers a secret (with its percent-decoded form) to mask wherever it appears in output. */
export function addSecret(secret: string): void {
  for (const form of [secret, safeDecode(secret)]) {
    if (form.length >= MIN_SECRET_LENGTH && form !== MASK) secrets.add(form);
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

/** `text` with URL passwords and registered secrets masked. Cheap when there is nothing to mask. */
export function redact(text: string): string {
  let out = text;
  if (out.includes("://")) out = out.replace(URL_CREDENTIALS, `$1${MASK}@`);
  for (const secret of secrets) if (out.includes(secret)) out = out.split(secret).join(MASK);
  return out;
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}
