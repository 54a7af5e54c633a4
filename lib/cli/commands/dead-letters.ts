// `dramats dead-letters QUEUE`: what failed for good, when, and why.
import type { Broker, DeadLetter } from "../../broker.ts";
import { ExitCode } from "../exit-codes.ts";
import { firstLine, formatTime, plural, table, type Output } from "./output.ts";
import type { Session } from "./session.ts";

export interface DeadLettersOptions {
  queue: string;
  /** At most this many, oldest first. */
  limit: number;
  json: boolean;
}

/** Lists a queue's dead letters, oldest first: id, actor, time of death and reason. */
export async function deadLettersCommand(session: Session, options: DeadLettersOptions, out: Output): Promise<number> {
  const { broker } = session;
  const { queue, limit } = options;
  broker.declareQueue(queue);
  const total = (await session.call(`depths of ${queue}`, () => broker.depths(queue))).dead;
  const letters = await session.call(`the dead letters of ${queue}`, () => broker.deadLetters(queue, limit));

  if (options.json) {
    out.json({
      queue,
      total,
      deadLetters: letters.map((letter) => ({
        id: letter.id,
        actor: actorOf(broker, letter) ?? null,
        deadAt: new Date(letter.deadAt).toISOString(),
        reason: letter.reason,
        body: letter.body,
      })),
    });
    return ExitCode.OK;
  }
  out.line(`Broker: ${session.label}`);
  if (letters.length === 0) {
    out.line(`No dead letters in ${queue}.`);
    return ExitCode.OK;
  }
  const shown = letters.length < total ? `the oldest ${letters.length} of ${total} (--limit N for more)` : plural(letters.length, "dead letter");
  out.line(`${queue}: ${shown}`);
  out.line();
  const rows = letters.map((letter) => [letter.id, formatTime(letter.deadAt), actorOf(broker, letter) ?? "?", firstLine(letter.reason)]);
  out.line(table([{ header: "ID" }, { header: "DEAD AT" }, { header: "ACTOR" }, { header: "REASON" }], rows, out.columns));
  return ExitCode.OK;
}

/** The actor a dead letter was for, when its body decodes. */
function actorOf(broker: Broker, letter: DeadLetter): string | undefined {
  try {
    return broker.decode(letter.body).actorName;
  } catch {
    return undefined;
  }
}
