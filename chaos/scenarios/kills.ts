// Scenarios that kill processes: a worker every few seconds, the supervisor, a worker while
// delayed messages wait, and the supervisor's own kill of a process whose event loop is blocked.
// Held timers: the runner must stay alive while it waits (lib/sleep.ts unrefs its timer).
import { setTimeout as sleep } from "node:timers/promises";
import { DELAY_PRECISION, perProcess } from "../bounds.ts";
import type { Context, Drain } from "../context.ts";
import { alive, kill, type Fleet } from "../fleet.ts";
import { row, type Row } from "../report.ts";

/** Waits until `fleet` ran something, so faults land mid-drain rather than during boot. */
async function firstRun(ctx: Context, fleet: Fleet): Promise<void> {
  const ok = await ctx.until(() => ctx.tally.starts.length > 0 || fleet.exit !== undefined, 60_000);
  if (!ok || fleet.exit !== undefined) throw new Error(`The dramats command ran nothing (exit ${fleet.exit}); see ${fleet.logFile}`);
}

/** SIGKILLs one worker process, at random among those that ran something (a booting one holds nothing); returns its pid and when. */
function killAWorker(ctx: Context, fleet: Fleet): { pid: number; at: number } | undefined {
  const ran = new Set(ctx.tally.starts.map((e) => e.pid));
  const all = fleet.workers();
  const busy = all.filter((pid) => ran.has(pid));
  const workers = busy.length > 0 ? busy : all;
  if (workers.length === 0) return undefined;
  const pid = workers[Math.floor(Math.random() * workers.length)]!;
  const at = Date.now();
  return kill(pid) ? { pid, at } : undefined;
}

/** SIGKILLs a worker process every `faultEvery` ms until the drain is done; returns the kills once it is. */
async function killWorkersUntilDrained(ctx: Context, fleet: Fleet, drain: Drain): Promise<{ pid: number; at: number }[]> {
  const kills: { pid: number; at: number }[] = [];
  await ctx.faultLoop(drain, ctx.profile.faultEvery, ctx.profile.maxFaults, async () => {
    const killed = killAWorker(ctx, fleet);
    if (killed) kills.push(killed);
    return killed !== undefined;
  });
  await drain.finished;
  return kills;
}

/** 1. SIGKILL a worker process every few seconds while the queue drains. */
export async function killWorker(ctx: Context): Promise<Row> {
  const expected = await ctx.sendWork(ctx.profile.messages);
  const fleet = ctx.startFleet();
  await firstRun(ctx, fleet);
  const drain = ctx.drain(expected);
  const kills = await killWorkersUntilDrained(ctx, fleet, drain);
  return row(ctx, "SIGKILL a worker process", {
    expected,
    faults: kills.length,
    bound: kills.length * perProcess(ctx.settings, ctx.target.name),
    drain,
    recoveries: kills.map((k) => ctx.tally.rerunAfterKill(k.pid, k.at)),
  });
}

/** 2. SIGKILL the supervisor mid-drain, see what its workers do, and start the command again. */
export async function killSupervisor(ctx: Context): Promise<Row> {
  const expected = await ctx.sendWork(ctx.profile.messages);
  const first = ctx.startFleet();
  await firstRun(ctx, first);
  await ctx.until(() => ctx.tally.processed(expected) >= expected.length / 3, ctx.profile.deadline);
  const workers = first.workers();
  const at = Date.now();
  first.signal("SIGKILL");
  // Orphaned workers lose their IPC channel: they should stop gracefully on their own.
  const gone = await ctx.until(() => workers.every((pid) => !alive(pid)), 15_000);
  const goneMs = Date.now() - at;
  const notes: string[] = [gone ? `its ${workers.length} workers exited on their own within ${(goneMs / 1000).toFixed(1)} s` : `${workers.filter(alive).length} orphaned workers still alive after 15 s (killed)`];
  first.destroy();
  // Graceful workers finish what they run: count what the orphans started and left.
  ctx.poll();
  const abandoned = workers.reduce((n, pid) => n + ctx.tally.unfinished(pid).size, 0);
  notes.push(`${abandoned} runs they had started were abandoned unfinished`);
  ctx.startFleet();
  const drain = ctx.drain(expected);
  await drain.finished;
  return row(ctx, "SIGKILL the supervisor, restart", {
    expected,
    faults: 1,
    bound: workers.length * perProcess(ctx.settings, ctx.target.name),
    drain,
    // The restart, and the messages the old workers had started and not finished coming back.
    recoveries: [ctx.tally.firstRunByNewProcess(new Set(workers), at), ...workers.map((pid) => ctx.tally.rerunAfterKill(pid, at))],
    notes,
    failures: gone ? [] : ["orphaned worker processes did not stop"],
  });
}

/** 8. Delayed messages, spread over a few seconds, while worker processes are SIGKILLed. */
export async function delayedKill(ctx: Context): Promise<Row> {
  const due = new Map<string, number>();
  const expected: string[] = [];
  const STEP = 250;
  const steps = Math.max(1, Math.floor(ctx.profile.delaySpread / STEP));
  const perStep = Math.ceil(ctx.profile.messages / steps);
  const fleet = ctx.startFleet();
  for (let s = 0; s < steps; s++) {
    const delay = (s + 1) * STEP;
    const sentAt = Date.now();
    const ids = await ctx.sendWork(perStep, `d${s}`, delay);
    for (const id of ids) due.set(id, sentAt + delay);
    expected.push(...ids);
  }
  await firstRun(ctx, fleet);
  const drain = ctx.drain(expected);
  const kills = await killWorkersUntilDrained(ctx, fleet, drain);
  let early = 0;
  let worstEarly = 0;
  const firstStart = new Map<string, number>();
  for (const e of ctx.tally.starts) firstStart.set(e.id, Math.min(firstStart.get(e.id) ?? Infinity, e.at));
  for (const [id, at] of firstStart) {
    const by = (due.get(id) ?? 0) - at;
    worstEarly = Math.max(worstEarly, by);
    if (by > DELAY_PRECISION) early++;
  }
  return row(ctx, "delayed messages across SIGKILLs", {
    expected,
    faults: kills.length,
    bound: kills.length * perProcess(ctx.settings, ctx.target.name),
    drain,
    recoveries: kills.map((k) => ctx.tally.rerunAfterKill(k.pid, k.at)),
    notes: [`${early} started more than ${DELAY_PRECISION} ms early (earliest ${Math.round(worstEarly)} ms before its eta)`],
    failures: early > 0 ? [`${early} delayed messages ran early`] : [],
  });
}

/** 7. One actor blocks its process's event loop for good among good messages. */
export async function blockedLoop(ctx: Context): Promise<Row> {
  const third = Math.floor(ctx.profile.messages / 3);
  const expected = await ctx.sendWork(third, "a");
  await ctx.target.producer.enqueue(ctx.message("chaos_block", ["blocker"]));
  expected.push(...(await ctx.sendWork(ctx.profile.messages - third, "b")));
  const fleet = ctx.startFleet();
  // Done once the good ones ran and the blocker is dead-lettered (nothing left in flight).
  const drain = ctx.drain(expected, (d) => d.ready + d.delayed + d.inFlight === 0 && d.dead >= 1);
  await drain.finished;
  await sleep(200);
  const kills = blockKills(fleet);
  const depths = await ctx.depths();
  return row(ctx, "actor blocks the event loop", {
    expected,
    faults: kills.length,
    bound: kills.length * perProcess(ctx.settings, ctx.target.name),
    drain,
    recoveries: kills.map((k) => ctx.tally.rerunAfterKill(k.pid, k.at)),
    notes: [`the supervisor killed ${kills.length} blocked processes; blocker ${depths.dead >= 1 ? "dead-lettered" : "not dead-lettered"}`],
    failures: depths.dead >= 1 ? [] : ["the blocking message never reached the dead-letter queue"],
  });
}

/** The supervisor's kills of silent processes, from its log: when, and which process. */
function blockKills(fleet: Fleet): { pid: number; at: number }[] {
  return fleet
    .logRecords()
    .filter((line) => typeof line.msg === "string" && line.msg.startsWith("Worker process missed its heartbeats"))
    .map((line) => ({ pid: Number(line.pid), at: Number(line.time) }));
}
