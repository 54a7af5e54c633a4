// The CLI's face of lib/connect.ts: the same URL rules, with failures as exit codes.
import type { Broker, BrokerOptions } from "../broker.ts";
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
