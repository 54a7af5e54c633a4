// The operator's subcommands: `dramats queues | dead-letters | requeue | purge | schedules | cancel | workers | health | dashboard | migrate`.
// Each opens the broker the way worker processes do, does one thing, prints it for people or
// as JSON, and exits: 0 done, 1 partly done (health: unhealthy), 2 bad usage, 3 broker unreachable.
import { Command, InvalidArgumentError, Option } from "commander";
import { pino } from "pino";
import { configureLogging } from "../../logging.ts";
import { checkedStoreUrl, fromCommanderError } from "../args.ts";
import { CliError, ExitCode } from "../exit-codes.ts";
import { cancelCommand, splitCancelArguments } from "./cancel.ts";
import { dashboardCommand } from "./dashboard.ts";
import { deadLettersCommand } from "./dead-letters.ts";
import { processOutput, type Output } from "./output.ts";
import { purgeCommand } from "./purge.ts";
import { queuesCommand } from "./queues.ts";
import { requeueCommand } from "./requeue.ts";
import { schedulesCommand } from "./schedules.ts";
import { healthCommand } from "./health.ts";
import { migrateCommand } from "./migrate.ts";
import { workersCommand } from "./workers.ts";
import { DEFAULT_CALL_TIMEOUT, openSession, type Session, type SessionOptions } from "./session.ts";

export { OPERATOR_COMMANDS, isOperatorCommand } from "./names.ts";

/** Options every operator command takes. */
interface Common {
  broker?: string;
  json?: boolean;
  timeout: number;
  verbose?: boolean;
  module?: string[];
}

type Run = (session: Session, out: Output) => Promise<number>;
/** What the parsed command line asks for: how to open the broker, then what to do. */
interface Plan {
  session: SessionOptions;
  run: Run;
}

function integer(min: number) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min) throw new InvalidArgumentError(`expected an integer >= ${min}, got ${JSON.stringify(value)}`);
    return n;
  };
}

const collect = (value: string, previous: string[] = []) => [...previous, value];

function common(command: Command, withModules: boolean): Command {
  command
    .addOption(new Option("-b, --broker <url>", "broker URL (redis://, amqp://, postgres://, sqlite://PATH...; default: the modules' setBroker)").env("DRAMATS_BROKER"))
    .addOption(new Option("--json", "print JSON instead of a table"))
    .addOption(new Option("--timeout <ms>", "give up on a broker that does not answer within MS (exit code 3)").argParser(integer(1)).default(DEFAULT_CALL_TIMEOUT))
    .addOption(new Option("-v, --verbose", "log at debug level (to stderr)"));
  if (withModules) command.addOption(new Option("-m, --module <module>", "import MODULE first, for its broker settings (repeatable)").argParser(collect));
  return command;
}

function sessionOf(o: Common, modules: readonly string[], useDefault = true): SessionOptions {
  return {
    modules: [...(o.module ?? []), ...modules],
    broker: o.broker || undefined,
    timeout: o.timeout,
    verbose: o.verbose === true,
    useDefault,
    expectActors: modules.length > 0,
  };
}

function buildProgram(version: string, plan: (p: Plan) => void): Command {
  const program = new Command("dramats").version(version, "-V, --version").showHelpAfterError("(add --help for usage)");

  common(program.command("queues").description("Show how many messages each queue holds: ready, delayed, in flight, dead."), false)
    .argument("[modules...]", "modules whose actors' queues to show")
    .addOption(new Option("-q, --queue <queue>", "also show QUEUE (repeatable)").argParser(collect))
    .action((modules: string[], o: Common & { queue?: string[] }) =>
      plan({ session: sessionOf(o, modules), run: (s, out) => queuesCommand(s, { queues: o.queue ?? [], json: o.json === true }, out) }),
    );

  common(program.command("dead-letters").description("List a queue's dead letters, oldest first, with the reason each failed."), true)
    .argument("<queue>")
    .addOption(new Option("-n, --limit <n>", "show at most N").argParser(integer(1)).default(100))
    .action((queue: string, o: Common & { limit: number }) =>
      plan({ session: sessionOf(o, []), run: (s, out) => deadLettersCommand(s, { queue, limit: o.limit, json: o.json === true }, out) }),
    );

  common(program.command("requeue").description("Move dead letters back to their queue to run again, with their retry counts reset."), true)
    .argument("<queue>")
    .addOption(new Option("--id <ids...>", "the dead letters to requeue, by message id"))
    .addOption(new Option("--all", "requeue every dead letter of the queue"))
    .action((queue: string, o: Common & { id?: string[]; all?: boolean }) =>
      plan({ session: sessionOf(o, []), run: (s, out) => requeueCommand(s, { queue, ids: o.id, all: o.all === true, json: o.json === true }, out) }),
    );

  common(program.command("purge").description("Drop every ready, delayed and dead message of a queue."), true)
    .argument("<queue>")
    .addOption(new Option("-y, --yes", "do not ask for confirmation"))
    .action((queue: string, o: Common & { yes?: boolean }) =>
      plan({ session: sessionOf(o, []), run: (s, out) => purgeCommand(s, { queue, yes: o.yes === true, json: o.json === true }, out) }),
    );

  common(program.command("schedules").description("List periodic actors with their next run times and the last tick enqueued."), false)
    .argument("<modules...>", "modules that declare the scheduled actors")
    .addOption(new Option("--next <n>", "upcoming run times to show per schedule").argParser(integer(1)).default(3))
    .addOption(new Option("--store <url>", "read the last ticks from this store (the workers' --store), e.g. on RabbitMQ"))
    .action((modules: string[], o: Common & { next: number; store?: string }) =>
      plan({ session: sessionOf(o, modules), run: (s, out) => schedulesCommand(s, { next: o.next, json: o.json === true, store: o.store === undefined ? undefined : checkedStoreUrl(o.store) }, out) }),
    );

  common(program.command("cancel").description("Cancel messages: queued or delayed ones never run, running ones are aborted."), false)
    .argument("<ids-and-modules...>", "message ids (UUIDs), then the modules whose broker has the Cancellation middleware")
    .addOption(new Option("--id <ids...>", "more message ids, for ids that are not UUIDs"))
    .action((args: string[], o: Common & { id?: string[] }) => {
      const { ids, modules } = splitCancelArguments(args);
      ids.push(...(o.id ?? []));
      if (ids.length === 0) throw new CliError("cancel: give the ids of the messages to cancel", ExitCode.IMPORT_ERROR);
      if (modules.length === 0) throw new CliError("cancel: name the modules whose broker has the Cancellation middleware", ExitCode.IMPORT_ERROR);
      plan({ session: sessionOf(o, modules, false), run: (s, out) => cancelCommand(s, { ids, json: o.json === true }, out) });
    });

  common(program.command("workers").description("List the worker processes of the registry, live and recently dead, or with --running the messages they run."), false)
    .argument("[modules...]", "modules to import first, for their broker settings")
    .addOption(new Option("--running", "list the messages running now, with their elapsed time"))
    .addOption(new Option("--store <url>", "read the registry from this store (the workers' --store), e.g. on RabbitMQ"))
    .action((modules: string[], o: Common & { running?: boolean; store?: string }) =>
      plan({ session: sessionOf(o, modules), run: (s, out) => workersCommand(s, { running: o.running === true, json: o.json === true, store: storeOf(o.store) }, out) }),
    );

  common(program.command("health").description("Exit 0 when a live worker consumes each queue, else 1 with a reason per queue (for cron and monitoring)."), false)
    .argument("[modules...]", "modules to import first, for their broker settings")
    .addOption(new Option("-q, --queue <queue>", "a queue that must be served (repeatable; default: every queue some worker registered)").argParser(collect))
    .addOption(new Option("--max-age <s>", "a live consumer's last beat must be newer than S seconds").argParser(seconds).default(30))
    .addOption(new Option("--store <url>", "read the registry from this store (the workers' --store), e.g. on RabbitMQ"))
    .action((modules: string[], o: Common & { queue?: string[]; maxAge: number; store?: string }) =>
      plan({
        session: sessionOf(o, modules),
        run: (s, out) => healthCommand(s, { queues: o.queue ?? [], maxAge: o.maxAge * 1000, json: o.json === true, store: storeOf(o.store) }, out),
      }),
    );

  common(program.command("dashboard").description("Serve the web dashboard: queues, messages, dead letters, workers, schedules and charts."), false)
    .argument("[modules...]", "modules that declare the actors (for schedules, and the broker's middleware)")
    .addOption(new Option("-p, --port <port>", "listen on PORT (0: any free port)").argParser(integer(0)).env("DRAMATS_DASHBOARD_PORT").default(9192))
    .addOption(new Option("--host <host>", "listen on HOST (beyond loopback, put it behind TLS)").default("127.0.0.1"))
    .addOption(new Option("--token <token>", "the operator token: without one the dashboard is read-only").env("DRAMATS_DASHBOARD_TOKEN"))
    .addOption(new Option("-q, --queue <queue>", "also show QUEUE (repeatable)").argParser(collect))
    .addOption(new Option("--store <url>", "the store the workers share (their --store), e.g. on RabbitMQ"))
    .action((modules: string[], o: Common & { port: number; host: string; token?: string; queue?: string[]; store?: string }) =>
      plan({
        session: sessionOf(o, modules),
        run: (s, out) =>
          dashboardCommand(s, { port: o.port, host: o.host, token: o.token || undefined, store: storeOf(o.store), queues: o.queue ?? [], verbose: o.verbose === true }, out),
      }),
    );

  common(program.command("migrate").description("Create or upgrade a PostgreSQL broker's schema (workers do it at first use; this does it ahead of a deploy)."), false)
    .argument("[modules...]", "modules to import first, for their broker settings")
    .action((modules: string[], o: Common) => plan({ session: sessionOf(o, modules, false), run: (s, out) => migrateCommand(s, { json: o.json === true }, out) }));

  return program;
}

function seconds(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError(`expected a number of seconds > 0, got ${JSON.stringify(value)}`);
  return n;
}

const storeOf = (url: string | undefined) => (url === undefined ? undefined : checkedStoreUrl(url));

/**
 * Runs one operator command (`argv` without `node` and the script, starting with the
 * command's name).
 * @returns the exit code.
 * @throws CliError for bad usage (2), an unreachable broker (3) and other expected failures.
 */
export async function runOperatorCommand(argv: readonly string[], version: string, out: Output = processOutput()): Promise<number> {
  const verbose = argv.includes("-v") || argv.includes("--verbose");
  // Logs go to stderr, so stdout holds only the answer (and stays valid JSON with --json). By
  // default none at all: a failure ends in one line that says what went wrong.
  configureLogging({ level: verbose ? "debug" : (process.env.DRAMATS_LOG_LEVEL ?? "silent") }, pino.destination({ fd: 2, sync: true }));

  let chosen: Plan | undefined;
  const program = buildProgram(version, (p) => (chosen = p));
  program.exitOverride();
  for (const command of program.commands) command.exitOverride();
  try {
    program.parse([...argv], { from: "user" });
  } catch (error) {
    throw fromCommanderError(error);
  }
  if (chosen === undefined) return ExitCode.OK;
  const plan: Plan = chosen;
  try {
    const session = await openSession(plan.session);
    try {
      return await plan.run(session, out);
    } finally {
      await session.close();
    }
  } catch (error) {
    if (error instanceof CliError) throw error;
    // Unexpected: one readable line (the stack with --verbose), through the same redaction as the rest.
    const e = error instanceof Error ? error : new Error(String(error));
    throw new CliError(plan.session.verbose ? (e.stack ?? `${e.name}: ${e.message}`) : `${e.name}: ${e.message}`, ExitCode.ERROR, { cause: e });
  }
}
