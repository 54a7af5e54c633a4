// The JSON API's routes (see api-types.ts for each answer's shape): reads for the pages, and the
// operator's actions, each one audited.
import type { IncomingMessage } from "node:http";
import { InvalidOptions } from "../errors.ts";
import { pausedQueues, pauseQueue, resumeQueue } from "../queue-pauses.ts";
import { pendingWorkerControl, requestWorkerControl } from "../worker-control.ts";
import { workerStatus, type WorkerRecord } from "../worker-registry.ts";
import { deleteDead, done, purge, requeueDead } from "./actions.ts";
import type { ActionResult, ScheduleView, Schedules, WorkerView, Workers } from "./api-types.ts";
import type { Fleet } from "./fleet.ts";
import { HttpError } from "./http.ts";
import type { MessageLists } from "./messages.ts";
import type { OverviewBuilder } from "./overview.ts";
import { MAX_LIMIT, segment, selection, state, text, whole } from "./params.ts";
import { detail } from "./views.ts";

/** What a route gets. */
export interface Call {
  request: IncomingMessage;
  params: string[];
  query: URLSearchParams;
  body: Record<string, unknown>;
}

/** A read or an action; actions return an ActionResult and are audited. */
interface Route {
  method: "GET" | "POST";
  pattern: RegExp;
  run: (call: Call) => Promise<unknown>;
  /** For the audit line: the action's name and its target. */
  audit?: (call: Call) => { action: string; target: string };
}

/** The API's routes, for a fleet. */
export function routes(fleet: Fleet, lists: MessageLists, overview: OverviewBuilder, history: (call: Call) => Promise<unknown>): Route[] {
  const queueOf = async (raw: string): Promise<string> => knownQueue(fleet, segment(raw, "queue"));
  const store = async () => {
    const s = await fleet.store();
    if (s === undefined) throw new HttpError(409, "unsupported", fleet.capabilities().notes.pause ?? "No shared store");
    return s;
  };
  return [
    { method: "GET", pattern: /^overview$/, run: () => overview.build() },
    {
      method: "GET",
      pattern: /^queues\/([^\/]+)\/messages$/,
      run: async ({ params, query }) =>
        lists.page(await queueOf(params[0]!), {
          state: state(query.get("state"), "ready"),
          offset: whole(query.get("offset"), "offset", 0, 0, 1e9),
          limit: whole(query.get("limit"), "limit", 50, 1, MAX_LIMIT),
          actor: text(query.get("actor"), "actor"),
          text: text(query.get("text"), "text"),
          reason: text(query.get("reason"), "reason"),
        }),
    },
    {
      method: "GET",
      pattern: /^queues\/([^\/]+)\/messages\/([^\/]+)$/,
      run: async ({ params }) => {
        const queue = await queueOf(params[0]!);
        const id = segment(params[1]!, "message id");
        const found = await lists.find(queue, id);
        if (found === undefined) throw new HttpError(404, "not_found", `No message ${id} in ${queue}: it ran, was purged, or never existed`);
        return detail(queue, found.stored, found.state, lists.decode(found.stored.body));
      },
    },
    {
      method: "GET",
      pattern: /^queues\/([^\/]+)\/dead-letters\/groups$/,
      run: async ({ params, query }) => lists.groups(await queueOf(params[0]!), { actor: text(query.get("actor"), "actor"), text: text(query.get("text"), "text") }),
    },
    {
      method: "POST",
      pattern: /^queues\/([^\/]+)\/dead-letters\/(requeue|delete)$/,
      audit: ({ params }) => ({ action: `dead-letters.${params[1]}`, target: params[0]! }),
      run: async ({ params, body }) => {
        const queue = await queueOf(params[0]!);
        const chosen = selection(body);
        return params[1] === "requeue" ? requeueDead(fleet, lists, queue, chosen) : deleteDead(fleet, lists, queue, chosen);
      },
    },
    {
      method: "POST",
      pattern: /^queues\/([^\/]+)\/(pause|resume)$/,
      audit: ({ params }) => ({ action: `queue.${params[1]}`, target: params[0]! }),
      run: async ({ params }) => {
        const queue = await queueOf(params[0]!);
        const s = await store();
        if (params[1] === "pause") await pauseQueue(s, queue);
        else await resumeQueue(s, queue);
        return done(1, params[1] === "pause" ? `Paused ${queue}: workers start none of its messages within a second` : `Resumed ${queue}`);
      },
    },
    {
      method: "POST",
      pattern: /^queues\/([^\/]+)\/purge$/,
      audit: ({ params }) => ({ action: "queue.purge", target: params[0]! }),
      run: async ({ params, body }) => purge(fleet, await queueOf(params[0]!), body.confirm),
    },
    { method: "GET", pattern: /^workers$/, run: () => workers(fleet) },
    {
      method: "POST",
      pattern: /^workers\/([^\/]+)\/(stop|restart)$/,
      audit: ({ params }) => ({ action: `worker.${params[1]}`, target: params[0]! }),
      run: async ({ params }) => {
        const id = segment(params[0]!, "worker id");
        const record = (await records(fleet)).find((r) => r.id === id);
        if (record === undefined) throw new HttpError(404, "not_found", `No worker ${id} in the registry`);
        if (workerStatus(record) !== "live") throw new HttpError(409, "conflict", `Worker ${id} is ${workerStatus(record)}: only a live worker can be stopped or restarted`);
        await requestWorkerControl(await store(), id, params[1] as "stop" | "restart");
        return done(1, `Asked ${record.host} pid ${record.pid} to ${params[1]} (taken up at its next beat, within ${Math.ceil(record.interval / 1000)} s)`);
      },
    },
    {
      method: "POST",
      pattern: /^messages\/([^\/]+)\/cancel$/,
      audit: ({ params }) => ({ action: "message.cancel", target: params[0]! }),
      run: async ({ params }) => {
        const id = segment(params[0]!, "message id");
        const cancellation = fleet.cancellation;
        if (cancellation === undefined) throw new HttpError(409, "unsupported", fleet.capabilities().notes.cancel!);
        const running = (await records(fleet)).some((r) => workerStatus(r) === "live" && r.running.some((m) => m.id === id));
        if (!running) throw new HttpError(404, "not_found", `Message ${id} is not running in any live worker (it finished, or never ran)`);
        await cancellation.cancel(id);
        return done(1, `Cancelled ${id}: its worker aborts it`);
      },
    },
    { method: "GET", pattern: /^schedules$/, run: () => schedules(fleet) },
    {
      method: "POST",
      pattern: /^schedules\/([^\/]+)\/(pause|resume|run)$/,
      audit: ({ params }) => ({ action: `schedule.${params[1]}`, target: params[0]! }),
      run: async ({ params }) => scheduleAction(fleet, segment(params[0]!, "actor"), params[1] as "pause" | "resume" | "run"),
    },
    { method: "GET", pattern: /^history$/, run: history },
  ];
}

/** The queue, when the fleet knows it (declared, named, or consumed by a worker on record). @throws HttpError 404 */
async function knownQueue(fleet: Fleet, queue: string): Promise<string> {
  if (fleet.broker.queues.has(queue)) return queue;
  if ((await records(fleet)).some((r) => r.queues.includes(queue))) {
    fleet.broker.declareQueue(queue);
    return queue;
  }
  throw new HttpError(404, "not_found", `Unknown queue ${queue}: no module declares it and no worker consumes it`);
}

async function records(fleet: Fleet): Promise<WorkerRecord[]> {
  const registry = await fleet.registry();
  return registry === undefined ? [] : registry.list();
}

async function workers(fleet: Fleet): Promise<Workers> {
  const now = Date.now();
  const store = await fleet.store();
  const list = await records(fleet);
  const views = await Promise.all(
    list.map(async (r): Promise<WorkerView> => ({
      id: r.id,
      host: r.host,
      pid: r.pid,
      status: workerStatus(r, now),
      queues: r.queues,
      concurrency: r.concurrency,
      rss: r.rss,
      cpu: r.cpu,
      utilization: r.concurrency > 0 ? Math.min(1, r.runningCount / r.concurrency) : 0,
      startedAt: r.startedAt,
      lastBeat: r.lastBeat,
      version: r.dramatsVersion,
      running: r.running.map((m) => ({ ...m, elapsed: Math.max(0, now - m.startedAt) })),
      pendingControl: store === undefined ? null : ((await pendingWorkerControl(store, r.id)) ?? null),
    })),
  );
  return { now, workers: views };
}

async function schedules(fleet: Fleet): Promise<Schedules> {
  const scheduler = fleet.scheduler;
  if (scheduler === undefined) return { schedules: [] };
  const infos = await scheduler.describe(fleet.broker, 3);
  return {
    schedules: infos.map(
      (s): ScheduleView => ({
        actor: s.actorName,
        queue: s.queueName,
        schedule: s.schedule,
        description: s.inWords,
        catchUp: s.catchUp,
        next: s.next,
        lastTick: s.lastTick ?? null,
        paused: s.paused,
      }),
    ),
  };
}

async function scheduleAction(fleet: Fleet, actor: string, action: "pause" | "resume" | "run"): Promise<ActionResult> {
  const scheduler = fleet.scheduler;
  if (scheduler === undefined) throw new HttpError(404, "not_found", `No schedule for ${actor}: the broker has no Scheduler`);
  try {
    if (action === "pause") await scheduler.pause(fleet.broker, actor);
    else if (action === "resume") await scheduler.resume(fleet.broker, actor);
    else {
      const message = await scheduler.runNow(fleet.broker, actor);
      return done(1, `Enqueued ${actor} now (message ${message.messageId})`);
    }
  } catch (error) {
    if (error instanceof InvalidOptions) throw new HttpError(404, "not_found", error.message);
    throw error;
  }
  return done(1, action === "pause" ? `Paused the schedule of ${actor}: its ticks pass without a run` : `Resumed the schedule of ${actor}`);
}

export { pausedQueues };
