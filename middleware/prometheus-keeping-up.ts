import { Counter, Gauge, type Registry } from "prom-client";
import type { Broker } from "../lib/broker.ts";
import { getLogger } from "../lib/logging.ts";
import type { Worker } from "../lib/worker.ts";

/**
 * Busy slot-time of one worker process: the messages in progress integrated over time, so
 * utilization is busy slot-seconds over available ones (concurrency times uptime). Two
 * additions per message start and end; nothing per message is kept.
 */
export class BusySlots {
  /** Messages in progress now. */
  running = 0;
  /** Slot-ms spent so far, accrued up to `since`. */
  busyMs = 0;
  since = 0;
  /** Epoch ms the worker booted (0: not yet). */
  bootedAt = 0;

  /** Adds the slot-time the running messages used since the last change. */
  accrue(now: number): void {
    if (this.running > 0 && now > this.since) this.busyMs += this.running * (now - this.since);
    this.since = now;
  }

  start(now: number): void {
    this.accrue(now);
    this.running++;
  }

  end(now: number): void {
    this.accrue(now);
    this.running--;
  }
}

/** What the scrape-time metrics read from their middleware. */
interface Sources {
  broker: Broker | undefined;
  worker: Worker | undefined;
  queues: Iterable<string>;
}

/**
 * The "are we keeping up" metrics read at scrape time: the utilization counter pair
 * (`dramats_worker_busy_slot_seconds_total`, `dramats_worker_slot_seconds_total`, summed over
 * processes like every counter) and `dramats_queue_oldest_message_age_seconds` (from the
 * broker, which every process reads alike: the supervisor takes the max, as for queue depths).
 */
export function registerKeepingUp(registers: Registry[], busy: BusySlots, sources: () => Sources): void {
  let busySeen = 0;
  let slotsSeen = 0;
  new Counter({
    name: "dramats_worker_busy_slot_seconds_total",
    help: "Slot-seconds spent processing messages (messages in progress integrated over time); utilization is its rate over dramats_worker_slot_seconds_total's.",
    registers,
    collect() {
      busy.accrue(Date.now());
      const seconds = busy.busyMs / 1000;
      if (seconds > busySeen) this.inc(seconds - busySeen);
      busySeen = Math.max(busySeen, seconds);
    },
  });
  new Counter({
    name: "dramats_worker_slot_seconds_total",
    help: "Slot-seconds available: the worker's concurrency times the seconds since it booted.",
    registers,
    collect() {
      const { worker } = sources();
      if (worker === undefined || busy.bootedAt === 0) return;
      const seconds = (worker.concurrency * (Date.now() - busy.bootedAt)) / 1000;
      if (seconds > slotsSeen) this.inc(seconds - slotsSeen);
      slotsSeen = Math.max(slotsSeen, seconds);
    },
  });
  new Gauge({
    name: "dramats_queue_oldest_message_age_seconds",
    help: "Age of the oldest ready message by queue: since its enqueue, or its eta when it was delayed; 0 when none is ready. Not on RabbitMQ.",
    labelNames: ["queue_name"],
    registers,
    aggregator: "max",
    async collect() {
      this.reset();
      const { broker, queues } = sources();
      if (broker?.oldestReadyAt === undefined) return;
      for (const queue of queues) {
        try {
          const at = await broker.oldestReadyAt(queue);
          this.set({ queue_name: queue }, at === undefined ? 0 : Math.max(0, Date.now() - at) / 1000);
        } catch (error) {
          getLogger("middleware.prometheus").warn({ err: error, queue }, "Could not read the oldest ready message's age");
        }
      }
    },
  });
}
