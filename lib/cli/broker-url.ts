import { extname } from "node:path";
import type { Broker } from "../broker.ts";
import { CliError, ExitCode } from "./exit-codes.ts";

type BrokerClass = new (options: { url: string; namespace?: string }) => Broker;

/** Adapter module (relative to this file, without extension) and export, by URL scheme. */
const ADAPTERS: Record<string, { path: string; exportName: string }> = {
  "redis:": { path: "../../brokers/redis/index", exportName: "RedisBroker" },
  "rediss:": { path: "../../brokers/redis/index", exportName: "RedisBroker" },
  "amqp:": { path: "../../brokers/rabbitmq/index", exportName: "RabbitmqBroker" },
  "amqps:": { path: "../../brokers/rabbitmq/index", exportName: "RabbitmqBroker" },
  // In-memory, one per process: for trying things out and for specs.
  "stub:": { path: "../../brokers/stub", exportName: "StubBroker" },
};

/**
 * Builds the broker a URL names. Adapters load lazily, so running on Redis never loads
 * amqplib and vice versa.
 * @throws CliError (exit code 2) for an unknown scheme or an adapter that cannot load.
 */
export async function brokerFromUrl(url: string): Promise<Broker> {
  const scheme = checkBrokerUrl(url);
  const adapter = ADAPTERS[scheme]!;
  // The source runs as .ts (through tsx) and the build as .js: load the sibling of this file's kind.
  const specifier = new URL(adapter.path + extname(new URL(import.meta.url).pathname), import.meta.url).href;
  let Adapter: BrokerClass;
  try {
    Adapter = ((await import(specifier)) as Record<string, BrokerClass>)[adapter.exportName]!;
  } catch (error) {
    throw new CliError(`Could not load the ${scheme} broker adapter: ${(error as Error).message}`, ExitCode.IMPORT_ERROR, { cause: error });
  }
  // Redis keys live under a namespace (Dramatiq's "dramatiq" by default); let the URL pick one.
  if (scheme === "redis:" || scheme === "rediss:") {
    const parsed = new URL(url);
    const namespace = parsed.searchParams.get("namespace");
    if (namespace !== null) {
      parsed.searchParams.delete("namespace");
      return new Adapter({ url: parsed.href, namespace });
    }
  }
  return new Adapter({ url });
}

/**
 * Checks that a broker URL parses and names a known scheme, without loading anything.
 * @returns the scheme, e.g. `redis:`.
 * @throws CliError (exit code 2)
 */
export function checkBrokerUrl(url: string): string {
  let scheme: string;
  try {
    scheme = new URL(url).protocol;
  } catch {
    throw new CliError(`Invalid broker URL ${JSON.stringify(redactUrl(url))}`, ExitCode.IMPORT_ERROR);
  }
  if (ADAPTERS[scheme] === undefined) {
    throw new CliError(`Unsupported broker URL scheme ${scheme} (supported: ${Object.keys(ADAPTERS).join(" ")})`, ExitCode.IMPORT_ERROR);
  }
  return scheme;
}

/** The URL with any password replaced by `***`, for logs and the boot line. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = "***";
    return parsed.href;
  } catch {
    return url.replace(/\/\/([^:/@]*):[^@]*@/, "//$1:***@");
  }
}
