import type { Worker as ClusterWorker } from "node:cluster";
import type { Broker, BrokerAddress } from "../broker.ts";
import { brokerFromAddress, loadAdapter } from "../connect.ts";
import type { Logger } from "../logging.ts";

/** Longest a dead process's IPC channel gets to deliver its last reports before recovery starts (ms). */
const DRAIN_TIMEOUT = 200;

/** One broker's consumers in one worker process. */
interface Held {
  readonly address: BrokerAddress;
  readonly ids: string[];
}

/**
 * The supervisor's side of fast recovery. Worker processes report each consumer they open (its
 * broker's address and its broker-side id); when a process dies without closing them, its
 * consumers' messages go back to their queues at once through `Broker.recoverConsumer`, instead
 * of after the broker's heartbeat or lease timeout. A broker is opened for the occasion (no
 * middleware) and closed again: crashes are rare, and the supervisor holds no connection meanwhile.
 */
export class ConsumerRecovery {
  readonly #log: Logger;
  readonly #held = new Map<ClusterWorker, Map<string, Held>>();
  readonly #running = new Set<Promise<void>>();

  constructor(logger: Logger) {
    this.#log = logger;
  }

  /** A worker process opened the consumer `id` on the broker at `address`. */
  note(worker: ClusterWorker, address: BrokerAddress, id: string): void {
    // Reports come from our own worker code; a malformed one must still not take the supervisor down.
    if (typeof id !== "string" || typeof address?.scheme !== "string" || typeof address.options !== "object") return;
    let brokers = this.#held.get(worker);
    if (brokers === undefined) this.#held.set(worker, (brokers = new Map()));
    const key = JSON.stringify(address);
    let held = brokers.get(key);
    if (held === undefined) {
      brokers.set(key, (held = { address, ids: [] }));
      // Loading a driver takes longer than the recovery itself: not after a crash.
      loadAdapter(address.scheme).catch(() => undefined);
    }
    held.ids.push(id);
  }

  /** The process exited cleanly: its consumers gave their messages back themselves. */
  forget(worker: ClusterWorker): void {
    this.#held.delete(worker);
  }

  /** The process died: give back what its consumers held, in the background (see `idle`). */
  recover(worker: ClusterWorker): void {
    const task = this.#recover(worker);
    this.#running.add(task);
    void task.finally(() => this.#running.delete(task));
  }

  /** Resolves once no recovery runs. */
  async idle(): Promise<void> {
    while (this.#running.size > 0) await Promise.all([...this.#running]);
  }

  async #recover(worker: ClusterWorker): Promise<void> {
    // A report sent just before the death may still sit in the channel: read it first.
    await drained(worker);
    const brokers = this.#held.get(worker);
    this.#held.delete(worker);
    if (brokers === undefined) return;
    const pid = worker.process.pid;
    for (const { address, ids } of brokers.values()) {
      const started = Date.now();
      let broker: Broker | undefined;
      try {
        broker = await brokerFromAddress(address);
        let count = 0;
        for (const id of ids) count += await broker.recoverConsumer(id);
        this.#log.info({ pid, consumers: ids.length, count, ms: Date.now() - started }, "Gave the dead worker process's messages back to their queues");
      } catch (error) {
        this.#log.warn({ err: error, pid }, "Could not give back the dead worker process's messages; the broker redelivers them after its heartbeat or lease timeout");
      } finally {
        await broker?.close().catch(() => undefined);
      }
    }
  }
}

function drained(worker: ClusterWorker): Promise<void> {
  if (!worker.isConnected()) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, DRAIN_TIMEOUT);
    worker.once("disconnect", () => {
      clearTimeout(timer);
      resolve();
    });
  });
}
