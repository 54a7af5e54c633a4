// Scenarios without process kills: connection kills (workers', then a producer's), a graceful
// SIGTERM under load, and hostile input mixed with good messages.
import { Message } from "../../lib/message.ts";
// Held timers: the runner must stay alive while it waits (lib/sleep.ts unrefs its timer).
import { setTimeout as sleep } from "node:timers/promises";
import { perProcess, SEND_WINDOW } from "../bounds.ts";
import { quiet, workMs, type Context } from "../context.ts";
import { alive } from "../fleet.ts";
import { GARBAGE_ACTOR, OVERSIZED_ARG, UNKNOWN_ACTOR, WORKER_MAX_SIZE } from "../poison.ts";
import { row, type Row } from "../report.ts";
import { APP_ENV } from "../app-env.ts";
import type { PostgresTarget } from "../target-postgres.ts";
import { hostileCases } from "./hostile.ts";
import { terminateNotes } from "./postgres.ts";

/** 3. Kill every broker connection of the worker processes (ours only) every few seconds (PostgreSQL: pg_terminate_backend, LISTEN sessions included). */
export async function killConnections(ctx: Context): Promise<Row> {
  const killConnections = ctx.target.killConnections!;
  const expected = await ctx.sendWork(ctx.profile.messages);
  ctx.startFleet();
  await ctx.until(() => ctx.tally.starts.length > 0, 60_000);
  const drain = ctx.drain(expected);
  const cuts: number[] = [];
  let connections = 0;
  let listenersKilled = 0;
  await ctx.faultLoop(drain, ctx.profile.faultEvery, ctx.profile.maxFaults, async () => {
    const at = Date.now();
    connections += await killConnections();
    if (ctx.target.name === "postgres") listenersKilled += (ctx.target as PostgresTarget).lastTerminated.listeners;
    cuts.push(at);
    return true;
  });
  await drain.finished;
  const failures: string[] = [];
  const notes =
    ctx.target.name === "postgres"
      ? await terminateNotes(ctx, connections, listenersKilled, cuts.length, failures)
      : ctx.target.name === "redis"
        ? [`${connections} connections killed (CLIENT KILL by name)`]
        : ["every connection of the run's own vhost closed (rabbitmqctl)"];
  return row(ctx, "kill the broker connections", {
    expected,
    faults: cuts.length,
    bound: cuts.length * ctx.settings.processes * perProcess(ctx.settings, ctx.target.name),
    drain,
    recoveries: cuts.map((at) => ctx.tally.throughputResumed(at)),
    notes,
    failures,
  });
}

/** 4. SIGTERM the supervisor under load: exit 0, nothing held, the rest runs after a restart. */
export async function sigterm(ctx: Context): Promise<Row> {
  const expected = await ctx.sendWork(ctx.profile.messages);
  const first = ctx.startFleet();
  await ctx.until(() => ctx.tally.processed(expected) >= expected.length / 3, ctx.profile.deadline);
  const members = first.members();
  const at = Date.now();
  first.signal("SIGTERM");
  const code = await first.exited(ctx.settings.grace + 15_000);
  const stopMs = Date.now() - at;
  const stragglers = members.filter(alive);
  const held = (await ctx.depths()).inFlight;
  const failures: string[] = [];
  if (code !== 0) failures.push(`the command exited with ${code ?? "nothing (still running)"}, not 0`);
  if (stragglers.length > 0) failures.push(`${stragglers.length} processes still running after the supervisor exited`);
  if (held > 0) failures.push(`${held} messages still held after the stop (not given back)`);
  const ranBefore = ctx.tally.processed(expected);
  first.destroy();
  ctx.startFleet();
  const drain = ctx.drain(expected);
  await drain.finished;
  return row(ctx, "SIGTERM under load, restart", {
    expected,
    faults: 1,
    bound: 0,
    drain,
    recoveries: [ctx.tally.firstRunByNewProcess(new Set(members), at)],
    notes: [`exit ${code} ${(stopMs / 1000).toFixed(1)} s after SIGTERM; ${ranBefore} ran before the stop, ${held} held after it`],
    failures,
  });
}

/** 5. A producer sends while its connections are cut: every send that resolved must run. */
export async function producerCut(ctx: Context): Promise<Row> {
  const killProducer = ctx.target.killProducerConnections!;
  const total = ctx.profile.producerMessages;
  // Paced so the cuts (rabbitmqctl takes seconds) land while sends are in flight.
  const span = Math.max(3 * ctx.profile.faultEvery, 4_000);
  const resolved: string[] = [];
  let rejected = 0;
  let sending = true;
  const resolvedAt: number[] = [];
  const start = Date.now();
  let next = 0;
  const sender = async () => {
    while (next < total) {
      const i = next++;
      const id = `p-${i}`;
      const wait = start + (i / total) * span - Date.now();
      if (wait > 0) await sleep(wait);
      try {
        await ctx.target.producer.enqueue(ctx.message("chaos_work", [id, workMs(i)]));
        resolved.push(id);
        resolvedAt.push(Date.now());
      } catch {
        rejected++;
      }
    }
  };
  const senders = Promise.all(Array.from({ length: SEND_WINDOW }, sender)).finally(() => (sending = false));
  const cuts: number[] = [];
  while (sending && cuts.length < ctx.profile.maxFaults) {
    await Promise.race([sleep(ctx.profile.faultEvery / 2), senders]);
    if (!sending) break;
    cuts.push(Date.now());
    await killProducer();
  }
  await senders;
  ctx.startFleet();
  const drain = ctx.drain(resolved);
  await drain.finished;
  return row(ctx, "producer cut while sending", {
    expected: resolved,
    faults: cuts.length,
    bound: cuts.length * SEND_WINDOW,
    drain,
    recoveries: cuts.map((at) => {
      const after = resolvedAt.find((t) => t >= at);
      return after === undefined ? Infinity : after - at;
    }),
    notes: [`${total} sends: ${resolved.length} resolved, ${rejected} rejected`],
  });
}

/**
 * 6. Undecodable bodies, unknown actors and oversized messages among good ones; then, on the
 * same fleet, the hostile corpus one case at a time (hostile.ts).
 */
export async function poison(ctx: Context): Promise<Row> {
  const each = ctx.profile.poisonEach;
  const good: string[] = [];
  const third = Math.ceil(ctx.profile.messages / 3);
  for (let part = 0; part < 3; part++) {
    good.push(...(await ctx.sendWork(Math.min(third, ctx.profile.messages - part * third), `g${part}`)));
    const bad: Message[] = [];
    for (let i = 0; i < each; i++) {
      if (part === 0) bad.push(ctx.message(GARBAGE_ACTOR, [`x${i}`]));
      if (part === 1) bad.push(ctx.message(UNKNOWN_ACTOR, [`u${i}`]));
      if (part === 2) bad.push(ctx.message("chaos_work", [`big-${i}`, 0, OVERSIZED_ARG]));
    }
    for (const message of bad) await ctx.target.producer.enqueue(message);
  }
  const poisoned = 3 * each;
  ctx.startFleet({ DRAMATS_MAX_MESSAGE_SIZE: String(WORKER_MAX_SIZE), [APP_ENV.lag]: "1" });
  const drain = ctx.drain(good, (d) => quiet(d) && d.dead >= poisoned);
  await drain.finished;
  const dead = (await ctx.depths()).dead;
  const hostile = ctx.profile.hostile ? await hostileCases(ctx) : { failures: [], table: undefined };
  return {
    ...row(ctx, "poison among good messages", {
      expected: good,
      faults: 0,
      bound: 0,
      drain,
      recoveries: [],
      notes: [`${dead} of ${poisoned} poison messages in ${ctx.queue}.XQ`, ...(hostile.table ? [`hostile corpus: ${hostile.failures.length === 0 ? "ok" : "see below"}`] : [])],
      failures: [...(dead === poisoned ? [] : [`${dead} dead letters, expected ${poisoned}`]), ...hostile.failures],
    }),
    details: hostile.table,
  };
}
