// PostgreSQL's own: a server restart during a drain, and what the connection kills
// (pg_terminate_backend) reached, with the LISTEN sessions coming back after them.
import { perProcess } from "../bounds.ts";
import type { Context } from "../context.ts";
import { row, type Row } from "../report.ts";
import type { PostgresTarget } from "../target-postgres.ts";

/** How long the worker processes' LISTEN sessions may take to come back after the last kill (ms). */
const LISTEN_BACK = 10_000;

/**
 * 9. Restart the broker's server (PostgreSQL: `pg_ctlcluster ... restart`, which ends every
 * session) once every worker process ran something: nothing lost, duplicates only among what every process
 * had in flight, the rest runs once the server is back.
 */
export async function restartServer(ctx: Context): Promise<Row> {
  const restart = ctx.target.restartServer!;
  const expected = await ctx.sendWork(ctx.profile.messages);
  const fleet = ctx.startFleet();
  // Mid-drain with every worker process running (a process still booting when the server goes
  // down fails its boot, see the README). Only the ledger is read until the server is back: the
  // runner's own looks would fail meanwhile.
  const running = () => {
    const ran = new Set(ctx.tally.starts.map((e) => e.pid));
    const workers = fleet.workers();
    return workers.length >= ctx.settings.processes && workers.every((pid) => ran.has(pid));
  };
  const started = await ctx.until(() => running() || fleet.exit !== undefined, 60_000);
  if (!started || fleet.exit !== undefined) throw new Error(`The dramats command's worker processes did not all run something (exit ${fleet.exit}); see ${fleet.logFile}`);
  const before = ctx.tally.processed(expected);
  const at = Date.now();
  const downMs = await restart();
  const drain = ctx.drain(expected);
  await drain.finished;
  const failures = fleet.exit === undefined ? [] : [`the dramats command exited (${fleet.exit}) after the restart`];
  return row(ctx, "server restart mid-drain", {
    expected,
    faults: 1,
    bound: ctx.settings.processes * perProcess(ctx.settings, ctx.target.name),
    drain,
    recoveries: [ctx.tally.throughputResumed(at)],
    notes: [`${before} ran before the restart; the server accepted connections again ${(downMs / 1000).toFixed(1)} s after it began`, ...(await listenNotes(ctx, failures))],
    failures,
  });
}

/** The notes of a connection kill on PostgreSQL: backends and LISTEN sessions terminated, and the LISTEN sessions back. */
export async function terminateNotes(ctx: Context, backends: number, listeners: number, faults: number, failures: string[]): Promise<string[]> {
  // A process still booting at a fault has no LISTEN session yet: at least one must have been hit.
  if (faults > 0 && listeners === 0) failures.push("no LISTEN session was terminated");
  return [`${backends} backends terminated (pg_terminate_backend by application_name), ${listeners} of them LISTEN sessions`, ...(await listenNotes(ctx, failures))];
}

/** Whether every worker process listens again (a LISTEN session of the run's application_name each). */
async function listenNotes(ctx: Context, failures: string[]): Promise<string[]> {
  const target = ctx.target as PostgresTarget;
  let open = 0;
  await ctx.until(async () => (open = await target.listeners()) >= ctx.settings.processes, LISTEN_BACK);
  if (open < ctx.settings.processes) failures.push(`${open} of ${ctx.settings.processes} worker processes listen again`);
  return [`${open} of ${ctx.settings.processes} worker processes listen again`];
}
