// `dramats cancel MESSAGE_ID... MODULE...`: cancel messages as `message.cancel()` does.
import { Cancellation } from "../../../middleware/cancellation.ts";
import { CliError, ExitCode } from "../exit-codes.ts";
import { plural, type Output } from "./output.ts";
import type { Session } from "./session.ts";

/** Message ids are UUIDs: what the command line gives that looks like one is an id, the rest are modules. */
const MESSAGE_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Splits `cancel`'s positional arguments into message ids and modules. */
export function splitCancelArguments(args: readonly string[]): { ids: string[]; modules: string[] } {
  const ids: string[] = [];
  const modules: string[] = [];
  for (const arg of args) (MESSAGE_ID.test(arg) ? ids : modules).push(arg);
  return { ids, modules };
}

export interface CancelOptions {
  ids: readonly string[];
  json: boolean;
}

/**
 * Records the cancellations in the backend of the broker's Cancellation middleware: workers
 * skip a cancelled message that is still queued or delayed, and abort it if it is running.
 * @throws CliError (2) when the modules' broker has no Cancellation middleware.
 */
export async function cancelCommand(session: Session, options: CancelOptions, out: Output): Promise<number> {
  const cancellation = [session.broker, ...session.others].map((b) => b.getMiddleware(Cancellation)).find((m) => m !== undefined);
  if (cancellation === undefined) {
    throw new CliError(
      "Cancelling needs the Cancellation middleware on the modules' broker, with the backend the workers use, e.g. " +
        "broker.addMiddleware(new Cancellation({ backend: new RedisCancellationBackend({ url }) })) " +
        "or, on SQLite, new SqliteCancellationBackend({ broker }); name the module that adds it",
      ExitCode.IMPORT_ERROR,
    );
  }
  const ids = [...new Set(options.ids)];
  for (const id of ids) await session.call(`cancelling ${id}`, () => cancellation.cancel(id), `the Cancellation backend (${cancellation.backend.constructor.name})`);
  if (options.json) out.json({ cancelled: ids });
  else {
    out.line(`Cancelled ${plural(ids.length, "message")}: ${ids.join(", ")}`);
    out.line("Workers skip them if still queued or delayed, and abort them if running.");
  }
  return ExitCode.OK;
}
