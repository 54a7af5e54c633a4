// The supervisor's /healthz and /readyz answers, from what it knows of its worker processes:
// their heartbeats (every IPC message counts), their boot state and their consumers' states.
import type { ProbeAnswer } from "./endpoints.ts";
import type { Child, Slot } from "./slot.ts";

/** One reason a probe fails, as the JSON body lists it. */
export interface ProbeReason {
  reason: "missed heartbeats" | "stopping" | "process restarting" | "process booting" | "broker unreachable" | "consumer stalled";
  slot?: number;
  pid?: number | undefined;
  queue?: string;
  silentMs?: number;
}

/**
 * Liveness: 503 when some booted process has been silent for `silentAfter` ms (missed its
 * heartbeats: a blocked event loop, which the supervisor kills at --heartbeat-timeout), else 200.
 * Booting processes are judged by --boot-timeout instead.
 */
export function liveness(children: Iterable<Child>, silentAfter: number, now = Date.now()): ProbeAnswer {
  const reasons: ProbeReason[] = [];
  let processes = 0;
  for (const child of children) {
    processes++;
    const silentMs = now - child.lastSeen;
    if (child.state !== "booting" && silentMs > silentAfter) {
      reasons.push({ reason: "missed heartbeats", slot: child.slot.index, pid: child.worker.process.pid, silentMs });
    }
  }
  return reasons.length === 0 ? { status: 200, body: { status: "ok", processes } } : { status: 503, body: { status: "unhealthy", reasons } };
}

/**
 * Readiness: 200 once every slot's process has booted and each of its consumers fetches; 503
 * with the reasons otherwise (stopping, a process booting or restarting, a consumer stalled or
 * its broker unreachable, a process that missed its heartbeats).
 */
export function readiness(slots: readonly Slot[], stopping: boolean, silentAfter: number, now = Date.now()): ProbeAnswer {
  const reasons: ProbeReason[] = [];
  if (stopping) reasons.push({ reason: "stopping" });
  for (const slot of slots) {
    const child = slot.current;
    // A slot stopped on request (the dashboard's stop) is meant to be empty.
    if (child === undefined && slot.stopped) continue;
    if (child === undefined) {
      reasons.push({ reason: "process restarting", slot: slot.index });
      continue;
    }
    const where = { slot: slot.index, pid: child.worker.process.pid };
    if (child.state === "booting" || child.state === "starting") {
      reasons.push({ reason: "process booting", ...where });
      continue;
    }
    const silentMs = now - child.lastSeen;
    if (silentMs > silentAfter) reasons.push({ reason: "missed heartbeats", ...where, silentMs });
    for (const { queue, state } of child.consumers ?? []) {
      if (state === "stalled") reasons.push({ reason: "consumer stalled", ...where, queue });
      else if (state === "failing") reasons.push({ reason: "broker unreachable", ...where, queue });
    }
  }
  return reasons.length === 0 ? { status: 200, body: { status: "ready", processes: slots.length } } : { status: 503, body: { status: "unready", reasons } };
}
