import cluster from "node:cluster";
import { rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Logger } from "../logging.ts";
import { ExitCode } from "./exit-codes.ts";
import { Blockers } from "./blockers.ts";
import { ConsumerRecovery } from "./recovery.ts";
import { FleetMetrics } from "./metrics.ts";
import { liveness, readiness } from "./health.ts";
import { bootLine, isWorkerReport, WORKER_ENV, type BootSummary } from "./ipc.ts";
import { commandChild, emptySlot, restartDelay, signalChild, type Child, type Slot } from "./slot.ts";
import { StopSignals } from "./stop-signals.ts";
import type { LogFile } from "./log-output.ts";
import { watchSources } from "./watch.ts";

export interface SupervisorOptions {
  processes: number;
  /** Worker processes silent this long after boot are deemed blocked and killed (ms). */
  heartbeatTimeout: number;
  /** How often worker processes beat (ms): /healthz fails after three missed beats. @defaultValue 1000 */
  heartbeatInterval?: number;
  /** Worker processes not ready this long after their fork are killed (ms). */
  bootTimeout: number;
  /** How long stopping workers get before a forced stop kills them (ms); informs the logs only. */
  grace: number;
  /** Node flags for worker processes (tsx's loader for TypeScript modules). */
  execArgv: string[];
  /** Extra environment for worker processes. */
  env?: Record<string, string> | undefined;
  /** Reload on source changes under this folder. */
  watch?: string | undefined;
  /** Relay children's output here instead of sharing our stdout. */
  logFile?: LogFile | undefined;
  /** Serve all processes' metrics here. */
  metrics?: { host: string; port: number } | undefined;
  logger: Logger;
  /** Consecutive failed boots of one slot before giving up. @defaultValue 5 */
  maxBootFailures?: number;
  /** First restart delay after a crash, doubling while crashes repeat (ms). @defaultValue 100 */
  minRestartDelay?: number;
  /** @defaultValue 10000 */
  maxRestartDelay?: number;
}

/** After a forced stop, how long workers get to exit on their own before SIGKILL (ms). */
const FORCE_KILL_AFTER = 3_000;

/**
 * The `dramats` main process: forks worker processes on node:cluster and keeps them alive.
 * It restarts a process that dies (with backoff, giving up on a boot crash loop), kills one
 * whose heartbeats stop (a blocked event loop), replaces recycled ones, reloads all of them
 * on SIGHUP or file changes without downtime, and on SIGTERM/SIGINT stops them gracefully.
 */
export class Supervisor {
  readonly #options: Required<Omit<SupervisorOptions, "watch" | "logFile" | "metrics" | "env">> & Pick<SupervisorOptions, "watch" | "logFile" | "metrics" | "env">;
  readonly #log: Logger;
  readonly #slots: Slot[] = [];
  readonly #children = new Set<Child>();
  readonly #recovery: ConsumerRecovery;
  #stopping = false;
  #forced = false;
  #everReady = false;
  #bootLogged = false;
  #exitCode: number = ExitCode.OK;
  #forks = 0;
  readonly #blockers: Blockers;
  #metrics: FleetMetrics | undefined;
  #checkTimer: NodeJS.Timeout | undefined;
  #stopWatching: (() => void) | undefined;
  #done!: (code: number) => void;
  readonly #stopSignals = new StopSignals({ stop: (signal) => this.#onStopSignal(signal), force: (signal) => this.#force(signal) });
  readonly #reloadSignal = () => this.reload("SIGHUP");

  constructor(options: SupervisorOptions) {
    this.#options = { maxBootFailures: 5, minRestartDelay: 100, maxRestartDelay: 10_000, heartbeatInterval: 1_000, ...options };
    this.#log = options.logger;
    this.#recovery = new ConsumerRecovery(options.logger);
    this.#blockers = new Blockers(options.logger);
  }

  /** Runs until the fleet stopped; resolves with the exit code for the command. */
  run(): Promise<number> {
    const finished = new Promise<number>((resolve) => (this.#done = resolve));
    cluster.setupPrimary({ execArgv: this.#options.execArgv, silent: this.#options.logFile !== undefined });
    // A terminal's Ctrl-C reaches the whole group; worker processes leave SIGINT to us.
    this.#stopSignals.listen("SIGTERM", "SIGINT");
    process.on("SIGHUP", this.#reloadSignal);
    const period = Math.max(10, Math.min(this.#options.heartbeatTimeout, this.#options.bootTimeout) / 4);
    this.#checkTimer = setInterval(() => this.#checkHealth(), period);
    if (this.#options.watch !== undefined) {
      this.#stopWatching = watchSources(this.#options.watch, (file) => this.reload(`change in ${file}`));
    }
    if (this.#options.metrics !== undefined) {
      const silentAfter = Math.min(this.#options.heartbeatTimeout, 3 * this.#options.heartbeatInterval);
      this.#metrics = new FleetMetrics(this.#options.metrics, () => this.#collectMetrics(), this.#log, {
        healthz: () => liveness(this.#children, silentAfter),
        readyz: () => readiness(this.#slots, this.#stopping, silentAfter),
      });
      this.#metrics.start().catch((error: unknown) => this.#log.warn({ err: error }, "Cannot serve metrics; running without"));
    }
    for (let index = 0; index < this.#options.processes; index++) {
      this.#slots.push(emptySlot(index));
    }
    // The first process boots alone: a module that fails to import is reported once, not N times.
    this.#slots[0]!.current = this.#fork(this.#slots[0]!);
    return finished;
  }

  /** Replaces every worker process with a fresh one, each old one stopping once its successor is ready. */
  reload(why: string): void {
    if (this.#stopping) return;
    this.#log.info({ reason: why }, "Reloading worker processes");
    for (const slot of this.#slots) {
      if (slot.current !== undefined && slot.current.state !== "retiring" && slot.next === undefined) slot.next = this.#fork(slot);
    }
  }

  /** Stops every worker process gracefully; the fleet's exit code is `code` unless a stop is forced. */
  stop(code: number = ExitCode.OK): void {
    if (this.#stopping) return;
    this.#stopping = true;
    this.#exitCode = code;
    this.#stopWatching?.();
    for (const slot of this.#slots) clearTimeout(slot.restartTimer);
    this.#log.info({ processes: this.#children.size, graceMs: this.#options.grace }, "Stopping worker processes");
    for (const child of this.#children) commandChild(child, { type: "stop" });
    this.#finishIfIdle();
  }

  #onStopSignal(signal: NodeJS.Signals): void {
    if (this.#stopping) return;
    this.#log.info({ signal }, "Received signal");
    this.stop(ExitCode.OK);
  }

  /** A second stop signal: workers exit at once; the recovery gives back what they held. */
  #force(signal: NodeJS.Signals): void {
    if (this.#forced || this.#children.size === 0) return;
    this.#forced = true;
    this.#exitCode = ExitCode.ERROR;
    this.#log.warn({ signal }, "Second signal: forcing worker processes to exit");
    for (const child of this.#children) commandChild(child, { type: "force" });
    setTimeout(() => {
      for (const child of this.#children) signalChild(child, "SIGKILL");
    }, FORCE_KILL_AFTER).unref();
  }

  #fork(slot: Slot): Child {
    const runningFile = join(tmpdir(), `dramats-${process.pid}-${++this.#forks}.running`);
    const worker = cluster.fork({
      ...this.#options.env,
      [WORKER_ENV.index]: String(slot.index),
      [WORKER_ENV.runningFile]: runningFile,
      [WORKER_ENV.blocked]: JSON.stringify(this.#blockers.ids),
      [WORKER_ENV.watch]: this.#blockers.watching ? "1" : "0",
    });
    const now = Date.now();
    const child: Child = { worker, runningFile, slot, forkedAt: now, lastSeen: now, state: "booting" };
    this.#children.add(child);
    this.#options.logFile?.relay(worker.process.stdout);
    // stderr carries boot failures ("Could not import ..."): keep them visible on the terminal too.
    this.#options.logFile?.relay(worker.process.stderr, process.stderr);
    worker.on("message", (message: unknown) => this.#onReport(child, message));
    worker.on("exit", (code: number | null, signal: string | null) => this.#onExit(child, code, signal));
    worker.on("error", (error) => this.#log.debug({ err: error, pid: worker.process.pid }, "IPC error with a worker process"));
    this.#log.debug({ slot: slot.index, pid: worker.process.pid }, "Forked worker process");
    return child;
  }

  #onReport(child: Child, message: unknown): void {
    if (!isWorkerReport(message)) return;
    child.lastSeen = Date.now();
    switch (message.type) {
      case "heartbeat":
        return;
      case "starting":
        return this.#onStarting(child);
      case "ready":
        return this.#onReady(child, message.summary);
      case "consumer":
        return this.#recovery.note(child.worker, message.address, message.id);
      case "consumers":
        child.consumers = message.consumers;
        return;
      case "retiring":
        return this.#onRetiring(child, message.reason);
      case "leaving":
        return this.#onLeaving(child, message.reason);
      case "metrics":
        return this.#metrics?.answer(message.id, message.metrics, child);
    }
  }

  #onStarting(child: Child): void {
    if (child.state !== "booting") return;
    child.state = "starting";
    child.slot.bootFailures = 0;
    if (!this.#everReady && !this.#stopping) {
      // The modules import: boot the other processes now.
      this.#everReady = true;
      for (const other of this.#slots) if (other.current === undefined) other.current = this.#fork(other);
    }
  }

  #onReady(child: Child, summary: BootSummary): void {
    if (child.state === "booting") this.#onStarting(child);
    if (child.state !== "starting") return;
    child.state = "ready";
    child.summary = summary;
    const slot = child.slot;
    this.#log.debug({ slot: slot.index, pid: child.worker.process.pid }, "Worker process ready");
    if (this.#stopping) {
      commandChild(child, { type: "stop" });
      return;
    }
    if (!this.#bootLogged) {
      this.#bootLogged = true;
      this.#logBoot(summary);
    }
    if (slot.next === child) {
      // A reload: the successor is consuming, so its predecessor may drain and leave.
      const previous = slot.current;
      slot.current = child;
      slot.next = undefined;
      if (previous) this.#retire(previous);
    }
  }

  #onRetiring(child: Child, reason: string): void {
    const slot = child.slot;
    child.state = "retiring";
    this.#log.info({ slot: slot.index, pid: child.worker.process.pid, reason }, "Worker process is recycling; starting its replacement");
    if (slot.current === child) {
      slot.current = undefined;
      if (!this.#stopping) slot.current = slot.next ?? this.#fork(slot);
      slot.next = undefined;
    }
  }

  /** A process stops on request: its slot stays empty (a reload's successor for it stops too). */
  #onLeaving(child: Child, reason: string): void {
    const slot = child.slot;
    child.state = "retiring";
    this.#log.warn({ slot: slot.index, pid: child.worker.process.pid, reason }, "Worker process is stopping on request; it will not be replaced");
    if (slot.current !== child && slot.next !== child) return;
    slot.stopped = true;
    const other = slot.current === child ? slot.next : slot.current;
    slot.current = undefined;
    slot.next = undefined;
    if (other !== undefined) this.#retire(other);
  }

  #retire(child: Child): void {
    child.state = "retiring";
    commandChild(child, { type: "stop" });
  }

  #onExit(child: Child, code: number | null, signal: string | null): void {
    this.#children.delete(child);
    this.#metrics?.departed(child);
    rmSync(child.runningFile, { force: true });
    // What a dead child held goes back now, not after the broker's heartbeat or lease timeout.
    if (code === 0) this.#recovery.forget(child.worker);
    else this.#recovery.recover(child.worker);
    const slot = child.slot;
    const pid = child.worker.process.pid;
    if (this.#stopping) {
      if (slot.current === child) slot.current = undefined;
      if (slot.next === child) slot.next = undefined;
      if (code !== 0 && !this.#forced) {
        this.#log.warn({ slot: slot.index, pid, code, signal }, "Worker process exited uncleanly while stopping");
        if (this.#exitCode === ExitCode.OK) this.#exitCode = ExitCode.ERROR;
      }
      return this.#finishIfIdle();
    }
    if (child.state === "retiring") {
      this.#log.info({ slot: slot.index, pid, code, signal }, "Worker process retired");
      if (this.#slots.every((s) => s.stopped) && this.#children.size === 0) {
        this.#log.info("Every worker process was stopped on request; the supervisor exits");
        this.stop(ExitCode.OK);
      }
      return;
    }
    const exitCode = code ?? ExitCode.ERROR;
    if (slot.next === child) {
      // A reload's successor died at boot: keep the running process, which still serves.
      slot.next = undefined;
      this.#log.error(
        { slot: slot.index, pid, code, signal },
        exitCode === ExitCode.IMPORT_ERROR ? "Reload failed: the new code does not import; keeping the running process" : "Reload failed: the new process died at boot; keeping the running process",
      );
      return;
    }
    if (slot.current === child) slot.current = undefined;

    if (child.state === "booting") {
      slot.bootFailures++;
      if (!this.#everReady && (exitCode === ExitCode.IMPORT_ERROR || exitCode === ExitCode.BROKER_CONNECTION_ERROR)) {
        // The worker printed why; retrying cannot fix an import error or a wrong broker URL.
        return this.#giveUp(exitCode, "Worker process failed to boot", { code, signal });
      }
      // Once the fleet has served, a broker that cannot be reached is an outage (a server restart,
      // a network cut), not a bad setup: keep trying with backoff, as running workers wait too.
      const outage = this.#everReady && exitCode === ExitCode.BROKER_CONNECTION_ERROR;
      if (outage) this.#log.warn({ slot: slot.index, pid, failures: slot.bootFailures }, "Worker process cannot reach the broker at boot; trying again until it can");
      else if (slot.bootFailures >= this.#options.maxBootFailures) {
        return this.#giveUp(exitCode === ExitCode.OK ? ExitCode.ERROR : exitCode, `Worker process ${slot.index} failed to boot ${slot.bootFailures} times in a row; giving up`, {
          code,
          signal,
        });
      }
    }
    const delay = restartDelay(slot, this.#options.minRestartDelay, this.#options.maxRestartDelay);
    this.#log.warn({ slot: slot.index, pid, code, signal, restartInMs: delay, state: child.state }, "Worker process died; restarting it");
    slot.restartTimer = setTimeout(() => {
      slot.restartTimer = undefined;
      if (!this.#stopping && slot.current === undefined) slot.current = this.#fork(slot);
    }, delay);
  }

  #giveUp(code: number, message: string, fields: Record<string, unknown>): void {
    this.#log.fatal({ ...fields, exitCode: code }, message);
    this.stop(code);
  }

  /** Kills processes whose event loop stopped answering, and those that never finished booting. */
  #checkHealth(): void {
    const now = Date.now();
    for (const child of this.#children) {
      const pid = child.worker.process.pid;
      if (child.state === "booting") {
        if (now - child.forkedAt > this.#options.bootTimeout) {
          this.#log.error({ slot: child.slot.index, pid, bootTimeoutMs: this.#options.bootTimeout }, "Worker process did not boot in time; killing it");
          signalChild(child, "SIGKILL");
        }
      } else if (now - child.lastSeen > this.#options.heartbeatTimeout) {
        this.#log.error(
          { slot: child.slot.index, pid, silentMs: now - child.lastSeen },
          "Worker process missed its heartbeats (event loop blocked?); killing it, the broker will redeliver its messages",
        );
        child.lastSeen = now; // One kill per silence.
        signalChild(child, "SIGKILL");
        this.#noteBlocker(child);
      }
    }
  }

  /** Every consuming process's metrics, for one scrape. */
  #collectMetrics(): Promise<unknown[]> {
    const metrics = this.#metrics!;
    const children = [...this.#children].filter((child) => child.state === "ready" || child.state === "retiring");
    return Promise.all(children.map((child) => metrics.request((id) => commandChild(child, { type: "metrics", id }))));
  }

  /** Remembers the message a blocked child was running, and tells every worker process. */
  #noteBlocker(child: Child): void {
    this.#blockers.note(child.worker.process.pid, child.runningFile, (command) => {
      for (const other of this.#children) if (other !== child) commandChild(other, command);
    });
  }

  #finishIfIdle(): void {
    if (!this.#stopping || this.#children.size > 0) return;
    clearInterval(this.#checkTimer);
    this.#metrics?.close();
    this.#stopSignals.close();
    process.off("SIGHUP", this.#reloadSignal);
    this.#log.info({ exitCode: this.#exitCode }, "All worker processes stopped");
    void this.#recovery.idle().then(() => this.#done(this.#exitCode));
  }

  #logBoot(summary: BootSummary): void {
    this.#log.info({ ...summary, processes: this.#options.processes, pid: process.pid }, bootLine(summary, this.#options.processes));
  }
}
