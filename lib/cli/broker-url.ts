// The CLI's face of lib/connect.ts: the same URL rules, with failures as exit codes.
import { setBroker, type Broker, type BrokerOptions } from "../broker.ts";
import { brokerFromUrl as build, checkBrokerUrl as check } from "../connect.ts";
import { DramatsError } from "../errors.ts";
import { CliError, ExitCode } from "./exit-codes.ts";

export { redactUrl } from "../redact.ts";

/**
 * Builds the broker a URL names (see `brokerFromUrl` in lib/connect.ts).
 * @throws CliError (exit code 2) for a bad URL or an adapter that cannot load.
 */
export async function brokerFromUrl(url: string, options: BrokerOptions = {}): Promise<Broker> {
  try {
    return await build(url, options);
  } catch (error) {
    if (error instanceof DramatsError) throw new CliError(error.message, ExitCode.IMPORT_ERROR, { cause: error });
    throw error;
  }
}

/**
 * Checks that a broker URL parses and names a known scheme, without loading anything.
 * @returns the scheme, e.g. `redis:`.
 * @throws CliError (exit code 2)
 */
export function checkBrokerUrl(url: string): string {
  try {
    return check(url);
  } catch (error) {
    throw new CliError((error as Error).message, ExitCode.IMPORT_ERROR, { cause: error });
  }
}

/** The URL parameter that bounds recovery without a supervisor, by scheme. */
const RECOVERY_PARAMETER: Record<string, string> = { "redis:": "heartbeat_timeout", "rediss:": "heartbeat_timeout", "sqlite:": "lease_time", "postgres:": "lease_time", "postgresql:": "lease_time" };

/**
 * `url` with `--recovery-timeout` set as its `heartbeat_timeout` (Redis) or `lease_time` (SQLite, PostgreSQL).
 * @throws CliError (exit code 2) for another broker, or a URL that sets a different value already.
 */
export function withRecoveryTimeout(url: string, ms: number): string {
  const scheme = checkBrokerUrl(url);
  const name = RECOVERY_PARAMETER[scheme];
  if (name === undefined) {
    throw new CliError(
      `--recovery-timeout applies to redis://, rediss://, postgres:// and sqlite: brokers, not ${scheme}// ` +
        (scheme.startsWith("amqp") ? "(RabbitMQ requeues a dead connection's messages itself)" : "(its messages live in one process)"),
      ExitCode.IMPORT_ERROR,
    );
  }
  // Appended as text: URL would re-encode a sqlite path, and the broker parses the query anyway.
  const [base, query = ""] = url.split(/\?(.*)/s, 2);
  const params = new URLSearchParams(query);
  const given = params.get(name);
  if (given !== null && given !== String(ms)) {
    throw new CliError(`--recovery-timeout ${ms} contradicts the broker URL's ${name}=${given}: give one of them`, ExitCode.IMPORT_ERROR);
  }
  params.set(name, String(ms));
  return `${base}?${params.toString()}`;
}

/**
 * `setBroker(broker)`, which declares the actors the modules made while no broker was set. A
 * mistake in one (an unknown option, an invalid schedule) is in the user's code, as an import
 * error is: exit code 2 at once, not a boot failure for the supervisor to retry.
 * @throws CliError (exit code 2) naming the actor and its mistake; the broker is closed.
 */
export async function declareOn(broker: Broker): Promise<Broker> {
  try {
    return setBroker(broker);
  } catch (error) {
    await broker.close().catch(() => {});
    if (!(error instanceof DramatsError)) throw error;
    throw new CliError(`Could not declare the modules' actors on ${broker.constructor.name}: ${error.message}`, ExitCode.IMPORT_ERROR, { cause: error });
  }
}
