import type { Worker as ClusterWorker } from "node:cluster";
import type { ConsumerState } from "../worker/stall-watchdog.ts";
import type { BootSummary, SupervisorCommand } from "./ipc.ts";

/** One worker process as the supervisor sees it. */
export interface Child {
  readonly worker: ClusterWorker;
  /** Where the child records the message whose actor runs synchronously (see BlockWatch). */
  readonly runningFile: string;
  readonly slot: Slot;
  readonly forkedAt: number;
  /** booting: importing modules; starting: consumers starting; ready: consuming. */
  state: "booting" | "starting" | "ready" | "retiring";
  lastSeen: number;
  summary?: BootSummary;
  /** Its consumers' states, as it last reported them. */
  consumers?: ConsumerState[];
}

/** A place for one worker process: its running child and, during a reload, the one replacing it. */
export interface Slot {
  readonly index: number;
  current: Child | undefined;
  next: Child | undefined;
  bootFailures: number;
  crashes: number[];
  restartTimer: NodeJS.Timeout | undefined;
  /** Its process was stopped on request (see WorkerReport "leaving"): the slot stays empty. */
  stopped: boolean;
}

/** Crashes older than this no longer make restarts slower (ms). */
const CRASH_WINDOW = 60_000;

export function emptySlot(index: number): Slot {
  return { index, current: undefined, next: undefined, bootFailures: 0, crashes: [], restartTimer: undefined, stopped: false };
}

/** Notes a crash of the slot's process; returns how long to wait before restarting it, doubling while crashes repeat (ms). */
export function restartDelay(slot: Slot, min: number, max: number): number {
  const now = Date.now();
  slot.crashes = slot.crashes.filter((at) => now - at < CRASH_WINDOW);
  slot.crashes.push(now);
  return Math.min(max, min * 2 ** (slot.crashes.length - 1));
}

/**
 * Tells a child what to do over IPC; a stop or force for a child whose channel is gone (it is
 * exiting, or not yet connected) becomes SIGTERM or SIGKILL.
 */
export function commandChild(child: Child, message: SupervisorCommand): void {
  try {
    if (child.worker.isConnected()) child.worker.send(message);
    else if (message.type === "stop" || message.type === "force") signalChild(child, message.type === "stop" ? "SIGTERM" : "SIGKILL");
  } catch {
    // The channel closed under us; its exit event follows.
  }
}

export function signalChild(child: Child, name: NodeJS.Signals): void {
  try {
    child.worker.process.kill(name);
  } catch {
    // Already gone; its exit event follows.
  }
}
