// `dramats dashboard [MODULES...]`: serves the web dashboard (lib/dashboard/) on a local port
// until SIGINT or SIGTERM. Read-only unless an operator token is given (DRAMATS_DASHBOARD_TOKEN,
// or --token); bound to loopback unless --host says otherwise.
import { createServer } from "node:http";
import { pino } from "pino";
import { dashboard } from "../../dashboard/handler.ts";
import { configureLogging } from "../../logging.ts";
import { addSecret } from "../../redact.ts";
import { CliError, ExitCode } from "../exit-codes.ts";
import type { Output } from "./output.ts";
import type { Session } from "./session.ts";

export interface DashboardCommandOptions {
  port: number;
  host: string;
  /** The operator token, if any. */
  token: string | undefined;
  /** `--store`: the store the workers share, when the broker has none. */
  store: string | undefined;
  /** `--queue`: queues to show besides those declared and consumed. */
  queues: readonly string[];
  /** Log at debug level. */
  verbose: boolean;
  /** Resolves when the command should stop (tests); by default SIGINT or SIGTERM. */
  stopped?: Promise<unknown>;
}

const LOOPBACK = new Set(["127.0.0.1", "::1", "localhost"]);

/** Serves until stopped; exit code 0, or 3 when the port cannot be bound. */
export async function dashboardCommand(session: Session, options: DashboardCommandOptions, out: Output): Promise<number> {
  // Audit lines (one per action) and errors go to stderr; the other operator commands log nothing by default.
  configureLogging({ level: options.verbose ? "debug" : (process.env.DRAMATS_LOG_LEVEL ?? "info") }, pino.destination({ fd: 2, sync: true }));
  if (options.token !== undefined) addSecret(options.token);
  const handler = dashboard({ broker: session.broker, token: options.token, store: options.store, queues: options.queues });
  const server = createServer(handler);
  try {
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(options.port, options.host, () => resolve());
    });
  } catch (error) {
    await handler.close();
    throw new CliError(`dashboard: cannot listen on ${options.host}:${options.port}: ${(error as Error).message}`, ExitCode.BROKER_CONNECTION_ERROR, { cause: error });
  }
  const address = server.address();
  const port = typeof address === "object" && address !== null ? address.port : options.port;
  const host = options.host.includes(":") ? `[${options.host}]` : options.host;
  out.line(`Dashboard of ${session.label}: http://${host}:${port}/ (${options.token === undefined ? "read-only: set DRAMATS_DASHBOARD_TOKEN to act" : "operator token set"})`);
  if (!LOOPBACK.has(options.host)) {
    out.note(`dramats: note: the dashboard listens on ${options.host}, beyond this machine${options.token === undefined ? "" : ": anyone who has the operator token can act on the fleet"}; put it behind TLS`);
  }
  await (options.stopped ?? untilSignal());
  await new Promise<void>((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
  await handler.close();
  return ExitCode.OK;
}

function untilSignal(): Promise<void> {
  return new Promise((resolve) => {
    const stop = () => {
      process.off("SIGINT", stop);
      process.off("SIGTERM", stop);
      resolve();
    };
    process.on("SIGINT", stop);
    process.on("SIGTERM", stop);
  });
}
