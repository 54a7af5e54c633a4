// `dramats requeue QUEUE --id ID... | --all`: dead letters back to their queue, to run again.
import { CliError, ExitCode } from "../exit-codes.ts";
import { plural, type Output } from "./output.ts";
import type { Session } from "./session.ts";

export interface RequeueOptions {
  queue: string;
  /** Dead letters to requeue by id; undefined with `all`. */
  ids: readonly string[] | undefined;
  all: boolean;
  json: boolean;
}

/**
 * Moves the chosen dead letters back (Broker.requeueDeadLetters: retry counts reset).
 * @returns exit code 0, or 1 when some given ids were not dead letters of the queue.
 * @throws CliError (2) unless exactly one of `--id` and `--all` is given.
 */
export async function requeueCommand(session: Session, options: RequeueOptions, out: Output): Promise<number> {
  const { broker } = session;
  const { queue } = options;
  if (options.all === (options.ids !== undefined)) {
    throw new CliError("requeue: pass --id ID... for some dead letters, or --all for every one", ExitCode.IMPORT_ERROR);
  }
  broker.declareQueue(queue);
  let missing: string[] = [];
  if (options.ids !== undefined) {
    const dead = new Set((await session.call(`the dead letters of ${queue}`, () => broker.deadLetters(queue))).map((letter) => letter.id));
    missing = [...new Set(options.ids)].filter((id) => !dead.has(id));
  }
  const requeued = await session.call(`requeueing the dead letters of ${queue}`, () => broker.requeueDeadLetters(queue, options.ids));

  if (options.json) out.json({ queue, requeued, missing });
  else out.line(`Requeued ${plural(requeued, "dead letter")} to ${queue}${requeued > 0 ? " (retry counts reset)" : ""}.`);
  if (missing.length === 0) return ExitCode.OK;
  out.note(`dramats: not dead letters of ${queue}: ${missing.join(", ")}`);
  return ExitCode.ERROR;
}
