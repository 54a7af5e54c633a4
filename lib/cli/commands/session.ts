// What every operator command starts from: the user's modules imported, the broker chosen
// by the same rules as the worker processes, and broker calls that fail fast (exit code 3)
// instead of hanging when the broker cannot be reached.
import { existsSync } from "node:fs";
import { peekBroker, type Broker } from "../../broker.ts";
import { brokerOrigin, DEFAULT_BROKER_URL, IN_PROCESS_SCHEMES } from "../../connect.ts";
import { isCredentialsRefused } from "../../credentials-refused.ts";
import { isArgumentsMismatch } from "../../errors.ts";
import { addUrlSecret, redactUrl } from "../../redact.ts";
import { tsxEntry } from "../../threads/tsx.ts";
import { brokerFromUrl, checkBrokerUrl, declareOn } from "../broker-url.ts";
import { CliError, ExitCode } from "../exit-codes.ts";
import { importModules, resolveModule } from "../modules.ts";

/** How long one broker call may take before the broker counts as unreachable (ms). */
export const DEFAULT_CALL_TIMEOUT = 10_000;

export interface SessionOptions {
  /** Module paths or package names, as typed. */
  modules: readonly string[];
  /** `--broker` or `DRAMATS_BROKER`. */
  broker: string | undefined;
  /** @defaultValue DEFAULT_CALL_TIMEOUT */
  timeout?: number;
  verbose?: boolean;
  /**
   * When nothing names a broker, use the default SQLite file (if it exists: an operator
   * command never creates an empty one). Otherwise that is a usage error.
   */
  useDefault?: boolean;
  /** The modules are named for their actors (not only for broker settings): say so when they declare none. */
  expectActors?: boolean;
}

/** An open broker for one operator command. */
export class Session {
  /** Where the broker lives, password masked: `RedisBroker redis://:***@host:6379/0`. */
  readonly label: string;

  constructor(
    readonly broker: Broker,
    url: string | undefined,
    /** Brokers the modules opened besides `broker` (closed at the end, not before: their middleware may hold clients). */
    readonly others: readonly Broker[],
    readonly timeout: number,
  ) {
    this.label = url === undefined ? broker.constructor.name : `${broker.constructor.name} ${redactUrl(url)}`;
  }

  /**
   * Runs one broker operation (or one on a backend: `target` names it in the message). No answer
   * within the timeout, a connection error or refused credentials end the command with exit code 3;
   * queues that exist with other arguments with exit code 2; other errors pass through.
   * @throws CliError
   */
  async call<T>(what: string, operation: () => Promise<T>, target = `the broker (${this.label})`): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new CliError(`Cannot reach ${target}: no answer to ${what} within ${this.timeout} ms (--verbose shows the errors)`, ExitCode.BROKER_CONNECTION_ERROR)), this.timeout);
    });
    try {
      return await Promise.race([operation(), late]);
    } catch (error) {
      if (isArgumentsMismatch(error)) {
        throw new CliError(`${target} refused the queue declaration: ${error.message}`, ExitCode.IMPORT_ERROR, { cause: error });
      }
      if (isConnectionError(error)) {
        throw new CliError(`Cannot reach ${target}: ${(error as Error).message}`, ExitCode.BROKER_CONNECTION_ERROR, { cause: error });
      }
      throw error;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Closes every broker; gives up on one that does not close in time (the command exits anyway). */
  async close(): Promise<void> {
    for (const broker of [this.broker, ...this.others]) {
      await Promise.race([broker.close().catch(() => {}), new Promise((resolve) => setTimeout(resolve, 2_000).unref())]);
    }
  }
}

/** Socket errors a driver may pass through untranslated (stores and backends use raw clients). */
const NETWORK_CODES = new Set(["ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "EPIPE", "ENOTFOUND", "EHOSTUNREACH", "ENETUNREACH", "EAI_AGAIN"]);

function isConnectionError(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === "string" && (code.startsWith("DRAMATS_ERR_CONNECTION") || NETWORK_CODES.has(code))) return true;
  // ioredis, when its retries for one command ran out.
  if ((error as { name?: unknown } | null)?.name === "MaxRetriesPerRequestError") return true;
  // A wrong password: the broker is there but cannot be used, which is what exit code 3 means.
  return isCredentialsRefused(error);
}

/**
 * Imports the modules, then picks the broker as the worker processes do: the URL (keeping the
 * modules' middleware, so their Scheduler, Cancellation... are there), else the modules' own
 * broker, else (with `useDefault`) the default SQLite file.
 * @throws CliError: 2 for bad modules, URLs or no broker at all; 3 for a database file that is not there.
 */
export async function openSession(options: SessionOptions): Promise<Session> {
  const session = await chooseBroker(options);
  if (options.expectActors && options.modules.length > 0 && session.broker.actors.size === 0) {
    process.stderr.write("dramats: note: the modules declared no actors on this broker (do they import the same dramats as this command?)\n");
  }
  return session;
}

async function chooseBroker(options: SessionOptions): Promise<Session> {
  const timeout = options.timeout ?? DEFAULT_CALL_TIMEOUT;
  if (options.broker !== undefined) {
    addUrlSecret(options.broker);
    checkBrokerUrl(options.broker);
  }
  const modules = options.modules.map((spec) => resolveModule(spec));
  if (modules.some((m) => m.typescript)) await loadTypeScript();
  await importModules(modules, options.verbose ?? false);

  const declared = peekBroker();
  let url = options.broker;
  if (url === undefined) {
    if (declared !== undefined) return new Session(declared, brokerOrigin(declared)?.url, [], timeout);
    if (!options.useDefault) {
      throw new CliError("No broker: pass --broker URL, set DRAMATS_BROKER, or name modules that call setBroker(...)", ExitCode.IMPORT_ERROR);
    }
    url = DEFAULT_BROKER_URL;
  }
  if (declared !== undefined && brokerOrigin(declared)?.url === url) return new Session(declared, url, [], timeout);

  const scheme = checkBrokerUrl(url);
  if (scheme === "sqlite:") assertDatabaseExists(url, url === options.broker);
  const broker = await declareOn(await brokerFromUrl(url, declared ? { middleware: [...declared.middleware] } : {}));
  const session = new Session(broker, url, declared ? [declared] : [], timeout);
  if (IN_PROCESS_SCHEMES.has(scheme)) {
    process.stderr.write(`dramats: note: ${scheme}// lives inside one process: this command sees only its own, empty broker\n`);
  }
  return session;
}

/** An operator command must not create an empty database where the user meant an existing one. */
function assertDatabaseExists(url: string, named: boolean): void {
  let path: string;
  try {
    path = decodeURIComponent(url.slice("sqlite://".length));
  } catch {
    return; // The adapter reports the bad URL.
  }
  if (path === "" || existsSync(path)) return;
  if (!named) {
    throw new CliError(
      `No broker: pass --broker URL, set DRAMATS_BROKER, or name modules that call setBroker(...) (the default ${DEFAULT_BROKER_URL} does not exist here)`,
      ExitCode.IMPORT_ERROR,
    );
  }
  throw new CliError(`Cannot reach the broker: the SQLite database ${path} does not exist`, ExitCode.BROKER_CONNECTION_ERROR);
}

/** Registers tsx's loader in this process, unless it is loaded already, so `.ts` modules import. */
async function loadTypeScript(): Promise<void> {
  const loaded = [...process.execArgv, process.env.NODE_OPTIONS ?? ""].some((arg) => arg.includes("tsx"));
  if (loaded) return;
  const api = tsxEntry("./esm/api");
  if (api === undefined) {
    throw new CliError("TypeScript modules need tsx: run `npm install tsx`, or compile the modules to .js", ExitCode.IMPORT_ERROR);
  }
  const { register } = (await import(api)) as { register: () => unknown };
  register();
}
