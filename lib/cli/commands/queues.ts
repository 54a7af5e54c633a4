// `dramats queues`: how many messages each queue holds, by state.
import type { QueueDepths } from "../../broker.ts";
import { CliError, ExitCode } from "../exit-codes.ts";
import { table, type Output } from "./output.ts";
import type { Session } from "./session.ts";

export interface QueuesOptions {
  /** `--queue`: queues to show besides those the modules declared. */
  queues: readonly string[];
  json: boolean;
}

/**
 * Shows the depths of the queues the modules declared plus `--queue` ones, in name order.
 * @throws CliError (2) when there is no queue to show.
 */
export async function queuesCommand(session: Session, options: QueuesOptions, out: Output): Promise<number> {
  const { broker } = session;
  for (const queue of options.queues) broker.declareQueue(queue);
  const names = [...broker.queues].sort();
  if (names.length === 0) {
    throw new CliError("No queues to show: name modules that declare actors, or queues with --queue Q", ExitCode.IMPORT_ERROR);
  }
  const depths: (QueueDepths & { queue: string })[] = [];
  for (const queue of names) depths.push({ queue, ...(await session.call(`depths of ${queue}`, () => broker.depths(queue))) });

  if (options.json) {
    out.json({ broker: session.label, queues: depths.map(({ queue, ready, delayed, inFlight, dead }) => ({ queue, ready, delayed, inFlight, dead })) });
    return ExitCode.OK;
  }
  out.line(`Broker: ${session.label}`);
  out.line();
  const right = { align: "right" } as const;
  const rows = depths.map((d) => [d.queue, String(d.ready), String(d.delayed), String(d.inFlight), String(d.dead)]);
  out.line(table([{ header: "QUEUE" }, { header: "READY", ...right }, { header: "DELAYED", ...right }, { header: "IN FLIGHT", ...right }, { header: "DEAD", ...right }], rows, out.columns));
  return ExitCode.OK;
}
