// The hostile corpus (poison.ts), run by the poison scenario one case at a time among good messages: each case's message
// must end processed or dead-lettered as the corpus says, the good ones sent with it must run,
// and no worker process's event loop may stall for 100 ms or more (heartbeats, timers and the
// other messages wait behind a stalled loop).
import { setTimeout as sleep } from "node:timers/promises";
import { LAG_EVERY } from "../app-env.ts";
import type { Context } from "../context.ts";
import { worstLag } from "../lag.ts";
import { HOSTILE_CASES } from "../poison.ts";

/** The event-loop delay a case may cause at most (ms). */
const MAX_LAG = 100;
/** How long one case may take to end (ms): a process blocked for good is killed twice before its message is named. */
const CASE_DEADLINE = 45_000;

/**
 * Runs the corpus on a fleet already started with APP_ENV.lag, after the poison scenario's own
 * messages: returns the failures and the table of cases.
 */
export async function hostileCases(ctx: Context): Promise<{ failures: string[]; table: string[] }> {
  const failures: string[] = [];
  const table = [
    `Hostile corpus on ${ctx.target.name} (lag: each process's worst event-loop delay while the case ran, sampled every ${LAG_EVERY} ms):`,
    "",
    "| case | expected | outcome | worst event-loop lag ms |",
    "| --- | --- | --- | ---: |",
  ];
  const seen = new Set((await ctx.target.producer.deadLetters(ctx.queue)).map((d) => `${d.id}@${d.deadAt}`));
  let dead = (await ctx.depths()).dead;
  for (const [i, hostileCase] of HOSTILE_CASES.entries()) {
    const { name } = hostileCase;
    const refusing = hostileCase.refusedBy?.includes(ctx.target.name) ?? false;
    const expect = refusing ? "refused at enqueue" : hostileCase.expect;
    if (hostileCase.brokers !== undefined && !hostileCase.brokers.includes(ctx.target.name)) {
      table.push(`| ${name} | ${expect} | n/a (${ctx.target.name} stores text) | – |`);
      continue;
    }
    const tag = `h-${i}`;
    const from = Date.now();
    let refusal: string | undefined;
    try {
      await ctx.target.enqueueRaw(ctx.queue, hostileCase.body(ctx.queue, tag));
    } catch (error) {
      if (!refusing) throw error;
      refusal = `${(error as Error).name}: ${(error as Error).message}`;
    }
    const beside = await ctx.sendWork(2, `hg${i}`);
    let outcome = "neither, within the deadline";
    await ctx.until(async () => {
      if (ctx.tally.processed(beside) < beside.length) return false;
      if (refusal !== undefined) outcome = "refused at enqueue";
      else if (ctx.tally.processed([tag]) === 1) outcome = "processed";
      else if ((await ctx.depths()).dead > dead) outcome = "dead-lettered";
      else return false;
      return true;
    }, CASE_DEADLINE);
    const to = Date.now();
    // The lines covering the case's last moments come up to one period later.
    await sleep(2 * LAG_EVERY);
    const lag = worstLag(ctx.ledgerDir, from, to, LAG_EVERY);
    dead = (await ctx.depths()).dead;
    let shown = refusal === undefined ? outcome : `${outcome}: ${refusal.slice(0, 70)}`;
    if (outcome === "dead-lettered") {
      const letters = (await ctx.target.producer.deadLetters(ctx.queue)).filter((d) => !seen.has(`${d.id}@${d.deadAt}`));
      for (const letter of letters) seen.add(`${letter.id}@${letter.deadAt}`);
      const reason = letters[0]?.reason ?? "?";
      const printable = reason.slice(0, 70).replace(/[|\n\r]/g, " ").replace(/[^\x20-\x7e]/g, "?");
      shown += `: ${printable}${reason.length > 70 ? "…" : ""}`;
    }
    table.push(`| ${name} | ${expect} | ${shown} | ${lag < 0 ? "–" : lag.toFixed(0)} |`);
    if (outcome !== expect) failures.push(`${name}: ${outcome}, expected ${expect}`);
    const bound = hostileCase.maxLag?.[ctx.target.name] ?? MAX_LAG;
    if (lag >= bound) failures.push(`${name}: event loop stalled ${lag.toFixed(0)} ms (bound ${bound} ms)`);
  }
  return { failures, table };
}
