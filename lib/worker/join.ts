import type { Broker } from "../broker.ts";
import { sleep } from "../sleep.ts";

/**
 * Worker.join: resolves when every one of `queues` is drained (nothing ready, delayed or in
 * flight at the broker) and `idle()` (the worker holds, runs and settles nothing).
 */
export async function joinWorker(broker: Broker, queues: () => Iterable<string>, idle: () => boolean): Promise<void> {
  for (;;) {
    for (const queue of queues()) await broker.join(queue, { failFast: false });
    if (idle()) {
      let busy = false;
      for (const queue of queues()) {
        const d = await broker.depths(queue);
        if (d.ready + d.delayed + d.inFlight > 0) busy = true;
      }
      if (!busy) return;
    }
    await sleep(5);
  }
}
