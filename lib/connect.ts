import { extname } from "node:path";
import { setBroker, type Broker, type BrokerAddress, type BrokerOptions } from "./broker.ts";
import { DramatsError, InvalidOptions } from "./errors.ts";
import { addUrlSecret, redactUrl } from "./redact.ts";

/** The broker when nothing names one: an SQLite file in the working directory, nothing to install or run. */
export const DEFAULT_BROKER_URL = "sqlite://./dramats.sqlite";

/** The environment variable naming the broker, for the `dramats` command and `connect()` alike. */
export const BROKER_ENV = "DRAMATS_BROKER";

/** Where a broker's URL came from. */
export type BrokerUrlSource = "argument" | typeof BROKER_ENV | "default";

type BrokerClass = new (options: BrokerOptions & { url?: string; namespace?: string }) => Broker;

/**
 * Adapter module (relative to this file, without extension) and export, by URL scheme. Loaded
 * lazily: the core never imports a driver, and running on Redis never loads amqplib.
 */
const ADAPTERS: Record<string, { path: string; exportName: string }> = {
  "redis:": { path: "../brokers/redis/index", exportName: "RedisBroker" },
  "rediss:": { path: "../brokers/redis/index", exportName: "RedisBroker" },
  "amqp:": { path: "../brokers/rabbitmq/index", exportName: "RabbitmqBroker" },
  "amqps:": { path: "../brokers/rabbitmq/index", exportName: "RabbitmqBroker" },
  "sqlite:": { path: "../brokers/sqlite/index", exportName: "SqliteBroker" },
  "postgres:": { path: "../brokers/postgres/index", exportName: "PostgresBroker" },
  "postgresql:": { path: "../brokers/postgres/index", exportName: "PostgresBroker" },
  // In memory, inside one process: for trying things out and for tests. `stub:` is its old name.
  "memory:": { path: "../brokers/stub", exportName: "StubBroker" },
  "stub:": { path: "../brokers/stub", exportName: "StubBroker" },
};

/** Schemes whose broker lives inside one process, so other processes never see its messages. */
export const IN_PROCESS_SCHEMES: ReadonlySet<string> = new Set(["memory:", "stub:"]);

const origins = new WeakMap<Broker, { url: string; source: BrokerUrlSource }>();

/** The broker URL to use when none is given: `DRAMATS_BROKER`, else {@link DEFAULT_BROKER_URL}. */
export function defaultBrokerUrl(env: NodeJS.ProcessEnv = process.env): {
  /** The broker URL. */
  url: string;
  /** Where it came from: the environment variable, or the built-in default. */
  source: BrokerUrlSource;
} {
  const fromEnv = env[BROKER_ENV];
  return fromEnv ? { url: fromEnv, source: BROKER_ENV } : { url: DEFAULT_BROKER_URL, source: "default" };
}

/**
 * Checks that a broker URL parses and names a known scheme, without loading anything.
 * @returns the scheme, e.g. `redis:`.
 * @throws InvalidOptions
 */
export function checkBrokerUrl(url: string): string {
  let scheme: string;
  try {
    scheme = new URL(url).protocol;
  } catch {
    throw new InvalidOptions(`Invalid broker URL ${JSON.stringify(redactUrl(url))}`);
  }
  if (ADAPTERS[scheme] === undefined) {
    throw new InvalidOptions(`Unsupported broker URL scheme ${scheme} (supported: redis:// rediss:// amqp:// amqps:// postgres:// postgresql:// sqlite://PATH memory://)`);
  }
  return scheme;
}

/**
 * Builds the broker a URL names: `redis://` and `rediss://` (`?namespace=ns` picks the key
 * namespace), `amqp://` and `amqps://`, `postgres://` and `postgresql://` (`?schema=NAME`),
 * `sqlite://PATH`, `memory://` (one process only).
 * `options` (such as the middleware chain) go to the broker's constructor.
 * @throws InvalidOptions for a bad URL or one the adapter refuses; DramatsError when the adapter cannot load.
 */
export async function brokerFromUrl(url: string, options: BrokerOptions = {}): Promise<Broker> {
  return build(url, "argument", options);
}

/**
 * Builds the broker a URL names (default: `DRAMATS_BROKER`, else `sqlite://./dramats.sqlite`)
 * and makes it the global broker, exactly as the `dramats` command does in its worker
 * processes: producers that call it enqueue where the workers consume.
 */
export async function connect(url?: string, options: BrokerOptions = {}): Promise<Broker> {
  const chosen = url === undefined ? defaultBrokerUrl() : { url, source: "argument" as const };
  return setBroker(await build(chosen.url, chosen.source, options));
}

/** The URL a broker was built from by `connect` or `brokerFromUrl`, and where that URL came from. */
export function brokerOrigin(broker: Broker):
  | {
      /** The URL the broker was built from. */
      url: string;
      /** Where that URL came from: an argument, the environment variable, or the default. */
      source: BrokerUrlSource;
    }
  | undefined {
  return origins.get(broker);
}

/**
 * Builds a broker, without middleware, from what another process's broker says about itself
 * (`Broker.recoveryAddress`): the `dramats` supervisor uses it to recover a dead worker
 * process's consumers.
 * @throws InvalidOptions for an unknown scheme; DramatsError when the adapter cannot load
 */
export async function brokerFromAddress(address: BrokerAddress): Promise<Broker> {
  if (ADAPTERS[address.scheme] === undefined) throw new InvalidOptions(`Unsupported broker scheme ${address.scheme}`);
  const Adapter = await loadAdapter(address.scheme);
  return new Adapter({ ...address.options, middleware: [] });
}

/** Loads the adapter module of `scheme` (cached by the module system): a recovery that may come is quicker with it loaded. */
export async function loadAdapter(scheme: string): Promise<BrokerClass> {
  const adapter = ADAPTERS[scheme]!;
  // The source runs as .ts (through tsx) and the build as .js: load the sibling of this file's kind.
  const specifier = new URL(adapter.path + extname(new URL(import.meta.url).pathname), import.meta.url).href;
  try {
    return ((await import(specifier)) as Record<string, BrokerClass>)[adapter.exportName]!;
  } catch (error) {
    throw new DramatsError(`Could not load the ${scheme}// broker adapter: ${(error as Error).message}`, { cause: error });
  }
}

async function build(url: string, source: BrokerUrlSource, options: BrokerOptions): Promise<Broker> {
  const scheme = checkBrokerUrl(url);
  addUrlSecret(url);
  const Adapter = await loadAdapter(scheme);
  let broker: Broker;
  try {
    broker = new Adapter({ ...options, ...adapterUrl(scheme, url) });
  } catch (error) {
    if (error instanceof DramatsError) throw error;
    throw new InvalidOptions(`Broker URL ${JSON.stringify(redactUrl(url))}: ${(error as Error).message}`, { cause: error });
  }
  origins.set(broker, { url, source });
  return broker;
}

function adapterUrl(scheme: string, url: string): { url: string; namespace?: string } {
  // Redis keys live under a namespace (Dramatiq's "dramatiq" by default); let the URL pick one.
  if (scheme === "redis:" || scheme === "rediss:") {
    const parsed = new URL(url);
    const namespace = parsed.searchParams.get("namespace");
    if (namespace !== null) {
      parsed.searchParams.delete("namespace");
      return { url: parsed.href, namespace };
    }
  }
  return { url };
}
