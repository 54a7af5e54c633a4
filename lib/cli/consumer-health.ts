// The worker process's side of /readyz and the stall watchdog: tells the supervisor how its
// consumers are doing, exports `dramats_consumer_stalled`, and asks for replacement when the
// Worker could not fix a stalled consumer in place.
import type { Worker } from "../worker.ts";
import { report } from "./ipc.ts";

/** Reports the worker's consumer states over IPC when they change; retires the process once on a stall restarts did not fix. */
export class ConsumerHealth {
  #last = "";
  #retired = false;

  constructor(
    readonly worker: Worker,
    readonly retire: (reason: string) => void,
  ) {}

  /** Called on every heartbeat: cheap (the states are read from memory). */
  check(): void {
    const consumers = this.worker.consumers;
    const json = JSON.stringify(consumers);
    if (json !== this.#last) {
      this.#last = json;
      report({ type: "consumers", consumers });
    }
    const failure = this.worker.stallFailure;
    if (failure !== undefined && !this.#retired) {
      this.#retired = true;
      this.retire(`consumer stalled: ${failure}`);
    }
  }

  /** `dramats_consumer_stalled{queue_name}`: 1 per stalled consumer, in prom-client's JSON (summed across processes). */
  metric(): unknown {
    return {
      name: "dramats_consumer_stalled",
      help: "Consumers that had room for messages and fetched none for the stall timeout while their queue had ready messages (1 until the consumer replacing it fetches)",
      type: "gauge",
      aggregator: "sum",
      values: this.worker.consumers.map(({ queue, state }) => ({ labels: { queue_name: queue }, value: state === "stalled" ? 1 : 0 })),
    };
  }
}
