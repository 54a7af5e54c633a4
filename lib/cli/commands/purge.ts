// `dramats purge QUEUE`: drop everything a queue holds.
import { createInterface } from "node:readline/promises";
import { CliError, ExitCode } from "../exit-codes.ts";
import { plural, type Output } from "./output.ts";
import type { Session } from "./session.ts";

export interface PurgeOptions {
  queue: string;
  /** Skip the question. Required when stdin is not a terminal. */
  yes: boolean;
  json: boolean;
}

/**
 * Drops the queue's ready, delayed and dead messages (Broker.flush), after asking, unless
 * `--yes`. Messages being processed right now are not counted; their acks become no-ops.
 * @throws CliError (2) without `--yes` when there is no terminal to ask on.
 */
export async function purgeCommand(session: Session, options: PurgeOptions, out: Output): Promise<number> {
  const { broker } = session;
  const { queue } = options;
  broker.declareQueue(queue);
  const before = await session.call(`depths of ${queue}`, () => broker.depths(queue));
  const what = `${before.ready} ready, ${before.delayed} delayed and ${plural(before.dead, "dead message")}`;
  if (!options.yes) {
    if (!process.stdin.isTTY || options.json) {
      throw new CliError(`purge: refusing to drop ${what} of ${queue} without --yes`, ExitCode.IMPORT_ERROR);
    }
    if (!(await confirm(`Purge ${queue} on ${session.label}: drop ${what}? [y/N] `))) {
      out.line("Nothing purged.");
      return ExitCode.OK;
    }
  }
  await session.call(`purging ${queue}`, () => broker.flush(queue));
  if (options.json) out.json({ queue, purged: { ready: before.ready, delayed: before.delayed, dead: before.dead } });
  else out.line(`Purged ${queue}: dropped ${what}.`);
  return ExitCode.OK;
}

async function confirm(question: string): Promise<boolean> {
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return /^y(es)?$/i.test((await rl.question(question)).trim());
  } finally {
    rl.close();
  }
}
