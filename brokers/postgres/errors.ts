import { BrokerError, ConnectionClosed, ConnectionFailed } from "../../lib/errors.ts";
import { redact } from "../../lib/redact.ts";

/** The database holds a dramats schema of a newer version than this dramats knows: upgrade dramats. */
export class SchemaVersionTooNew extends BrokerError {
  override readonly code = "DRAMATS_ERR_SCHEMA_VERSION_TOO_NEW";
  constructor(
    /** The PostgreSQL schema. */ readonly schema: string,
    /** The version the database holds. */ readonly found: number,
    /** The newest version this dramats knows. */ readonly known: number,
  ) {
    super(`PostgreSQL schema "${schema}" is at dramats schema version ${found}; this dramats knows versions up to ${known}: upgrade dramats (or use another schema)`);
  }
}

/**
 * A message was to be written through the application's client (`withTransaction`,
 * `sendWithOptions({ db })`) but no transaction is open on it: written there, it would be
 * committed at once, whatever the application then does. Nothing was written. Await `BEGIN`
 * first (or use the ORM's transaction). Detected on `pg` clients (their transaction status);
 * an adapter without `getTransactionStatus` is trusted.
 */
export class NotInTransaction extends BrokerError {
  override readonly code = "DRAMATS_ERR_NOT_IN_TRANSACTION";
  constructor() {
    super("PostgresBroker: the client given to withTransaction / sendWithOptions({ db }) has no open transaction (run BEGIN first); nothing was enqueued");
  }
}

/** SQLSTATE classes and codes that mean the server cannot be used right now (or at all with these credentials). */
const CONNECTION_STATES = ["08", "28", "3D", "57P01", "57P02", "57P03", "53300"];
/** Socket and TLS errors (a certificate the `sslmode` does not accept). */
const NETWORK_CODES = new Set([
  "ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "EPIPE", "ENOTFOUND", "EHOSTUNREACH", "ENETUNREACH", "EAI_AGAIN",
  "DEPTH_ZERO_SELF_SIGNED_CERT", "SELF_SIGNED_CERT_IN_CHAIN", "UNABLE_TO_VERIFY_LEAF_SIGNATURE", "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "CERT_HAS_EXPIRED", "ERR_TLS_CERT_ALTNAME_INVALID",
]);
/** `pg`'s own texts for a dropped or never-made connection (no code). */
const PG_TEXTS = [
  "Connection terminated", "connection timeout", "timeout expired", "Client has encountered a connection error", "Client was closed",
  "The server does not support SSL connections",
];

/** True for an error of `pg` that says the connection failed or was lost (rather than a bad statement). */
export function isConnectionLoss(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === "string") {
    if (NETWORK_CODES.has(code)) return true;
    if (/^[0-9A-Z]{5}$/.test(code)) return CONNECTION_STATES.some((prefix) => code.startsWith(prefix));
  }
  const message = error instanceof Error ? error.message : "";
  return PG_TEXTS.some((text) => message.includes(text));
}

/**
 * The error dramats throws for an error of `pg`: ConnectionFailed for a server that cannot be
 * reached or refuses the credentials (the CLI's exit code 3), ConnectionClosed after `close`,
 * BrokerError for anything else the server said; the URL's password never appears.
 * @param where the masked URL or a description of the pool
 * @param what the backend's name, to start its messages with (the broker's say PostgreSQL at once)
 */
export function translatePgError(error: unknown, where: string, closed: boolean, what?: string): unknown {
  if (error instanceof BrokerError) return error;
  if (closed) return new ConnectionClosed(`${what ?? "PostgresBroker"} (${where}) is closed`, { cause: error });
  const text = redact(error instanceof Error ? error.message : String(error));
  const code = (error as { code?: unknown } | null)?.code;
  const source = `${what === undefined ? "" : `${what}: `}PostgreSQL at ${where}`;
  if (isConnectionLoss(error)) {
    const which = code === "28P01" || code === "28000" ? " (the server refused the credentials)" : "";
    return new ConnectionFailed(`${source}: ${text}${which}`, { cause: error });
  }
  if (!(error instanceof Error) || typeof code !== "string") return error;
  return new BrokerError(`${source}: ${text} (SQLSTATE ${code})`, { cause: error });
}
