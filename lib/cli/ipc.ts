import type { BrokerAddress } from "../broker.ts";
import type { ConsumerState } from "../worker/stall-watchdog.ts";

/** What a worker process tells its supervisor over the cluster IPC channel. */
export type WorkerReport =
  /** Sent on a timer; silence means a blocked event loop. */
  | { type: "heartbeat" }
  /**
   * Modules imported and the broker reached; consumers start now. From here on silence means
   * a blocked event loop (an actor may block before "ready" gets out).
   */
  | { type: "starting" }
  /** Consumers running. */
  | { type: "ready"; summary: BootSummary }
  /**
   * A consumer opened: where its broker is and its broker-side id, so that the supervisor gives
   * its messages back at once if this process dies (see lib/cli/recovery.ts).
   */
  | { type: "consumer"; address: BrokerAddress; id: string }
  /**
   * Its consumers' states, at boot and whenever one changes (see Worker.consumers): the
   * supervisor's /readyz reads them.
   */
  | { type: "consumers"; consumers: ConsumerState[] }
  /** Recycling (message count, memory, a restart asked from the dashboard): start a replacement, this one is draining. */
  | { type: "retiring"; reason: string }
  /** Stopping on request (the dashboard's stop): draining, and not to be replaced. */
  | { type: "leaving"; reason: string }
  /**
   * The answer to a metrics request: prom-client's JSON for this process (empty without
   * Prometheus). Id 0 is unasked: a process's final metrics, sent as it exits.
   */
  | { type: "metrics"; id: number; metrics: unknown[] };

/** What the boot line reports: one worker process's view after loading the modules. */
export interface BootSummary {
  /** Broker class and redacted URL, e.g. `RedisBroker redis://127.0.0.1:6379/0`. */
  broker: string;
  queues: string[];
  actors: { name: string; queue: string; threaded: boolean }[];
  /** Async actors at once in the process. */
  concurrency: number;
  /** Pool threads for threaded actors; 0 when the modules declare none. */
  cpuThreads: number;
}

/**
 * What the supervisor tells a worker process. Over IPC rather than signals, and a worker process
 * counts only the signals it receives itself (see StopSignals): a process manager that signals
 * the whole group at once, or the supervisor and then the group, asks for one stop, not two.
 */
export type SupervisorCommand =
  /** Stop gracefully (as a first SIGTERM does); a SIGTERM that follows is still a first one. */
  | { type: "stop" }
  /** Exit now; held messages are redelivered by the broker. */
  | { type: "force" }
  /** These messages blocked a process's event loop: dead-letter them instead of running them. */
  | { type: "blocked"; ids: string[] }
  /** A process was killed for a blocked event loop: start recording which message runs. */
  | { type: "watch" }
  /** Send this process's metrics (a scrape of the supervisor's /metrics). */
  | { type: "metrics"; id: number };

export function isSupervisorCommand(value: unknown): value is SupervisorCommand {
  const type = (value as { type?: unknown } | null)?.type;
  return type === "stop" || type === "force" || type === "blocked" || type === "watch" || type === "metrics";
}

/** Environment variables a worker process gets from the supervisor. */
export const WORKER_ENV = {
  /** Which slot (0..processes-1) the process fills. */
  index: "DRAMATS_WORKER_INDEX",
  /** Where the process records the message whose actor runs synchronously right now. */
  runningFile: "DRAMATS_RUNNING_FILE",
  /** JSON array of message ids known to block the event loop. */
  blocked: "DRAMATS_BLOCKED_MESSAGES",
  /** "1" once the fleet has seen a blocked process: record running messages from the start. */
  watch: "DRAMATS_BLOCK_WATCH",
  /** The supervisor's parsed CliOptions as JSON, so worker processes need not parse (nor load commander). */
  options: "DRAMATS_WORKER_OPTIONS",
} as const;

/** The human half of the boot line: broker, queues, actors and concurrency in one sentence. */
export function bootLine(summary: BootSummary, processes: number): string {
  const actors = summary.actors.map((a) => (a.threaded ? `${a.name} (threaded)` : a.name)).join(", ") || "none";
  const threads = summary.cpuThreads > 0 ? `, ${summary.cpuThreads} CPU threads` : "";
  return (
    `dramats booted: broker ${summary.broker}; queues ${summary.queues.join(", ") || "none"}; actors ${actors}; ` +
    `${processes} processes x ${summary.concurrency} concurrent actors${threads}`
  );
}

export function isWorkerReport(value: unknown): value is WorkerReport {
  return typeof value === "object" && value !== null && typeof (value as { type?: unknown }).type === "string";
}

/** Sends a report if the channel to the supervisor is still open. */
export function report(message: WorkerReport): void {
  // With a callback, a write to a channel whose other end just died (EPIPE, before 'disconnect'
  // is seen) fails there instead of as an 'error' event that would crash the process mid-stop.
  if (process.connected && process.send) process.send(message, undefined, undefined, ignoreSendError);
}

function ignoreSendError(): void {
  // The supervisor is gone: 'disconnect' follows, and the process stops gracefully then.
}

/** Sends a report and resolves once it left this process (or the channel is gone): for a last word before exiting. */
export function reportAndWait(message: WorkerReport, timeout = 1_000): Promise<void> {
  return new Promise((resolve) => {
    if (!process.connected || !process.send) return resolve();
    const timer = setTimeout(resolve, timeout);
    try {
      process.send(message, undefined, undefined, () => {
        clearTimeout(timer);
        resolve();
      });
    } catch {
      // The channel closed in between: there is no one left to tell.
      clearTimeout(timer);
      resolve();
    }
  });
}
