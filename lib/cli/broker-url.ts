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
