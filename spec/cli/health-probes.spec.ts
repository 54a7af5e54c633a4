// The supervisor's /healthz and /readyz answers (lib/cli/health.ts), for each reason, from the
// state the supervisor keeps of its worker processes. spec/cli/health.spec.ts serves them from a
// real `dramats` run.
import { expect } from "chai";
import type { Worker as ClusterWorker } from "node:cluster";
import { liveness, readiness } from "../../lib/cli/health.ts";
import { emptySlot, type Child, type Slot } from "../../lib/cli/slot.ts";
import type { ConsumerState } from "../../lib/index.ts";

const NOW = 1_000_000;

function slotWith(index: number, state: Child["state"] | undefined, lastSeen = NOW, consumers?: ConsumerState[]): Slot {
  const slot = emptySlot(index);
  if (state !== undefined) {
    const worker = { process: { pid: 100 + index } } as unknown as ClusterWorker;
    slot.current = { worker, runningFile: "", slot, forkedAt: NOW - 10_000, state, lastSeen, ...(consumers ? { consumers } : {}) };
  }
  return slot;
}

const children = (slots: Slot[]) => slots.flatMap((s) => (s.current ? [s.current] : []));

describe("health probes", () => {
  it("are 200 when every process is ready, beating and consuming", () => {
    const slots = [slotWith(0, "ready", NOW - 100, [{ queue: "a", state: "connected" }]), slotWith(1, "ready", NOW)];
    expect(readiness(slots, false, 300, NOW)).to.deep.equal({ status: 200, body: { status: "ready", processes: 2 } });
    expect(liveness(children(slots), 300, NOW)).to.deep.equal({ status: 200, body: { status: "ok", processes: 2 } });
  });

  it("/readyz: a slot whose process was stopped on request (the dashboard's stop) is meant to be empty", () => {
    const stopped = slotWith(1, undefined);
    stopped.stopped = true;
    expect(readiness([slotWith(0, "ready"), stopped], false, 300, NOW)).to.deep.equal({ status: 200, body: { status: "ready", processes: 2 } });
    expect(readiness([slotWith(0, "ready"), slotWith(1, undefined)], false, 300, NOW).status).to.equal(503);
  });

  it("/healthz: 503 for a booted process silent longer than the limit, not for a booting one", () => {
    const slots = [slotWith(0, "ready", NOW - 301), slotWith(1, "booting", NOW - 5_000), slotWith(2, "retiring", NOW - 300)];
    expect(liveness(children(slots), 300, NOW)).to.deep.equal({
      status: 503,
      body: { status: "unhealthy", reasons: [{ reason: "missed heartbeats", slot: 0, pid: 100, silentMs: 301 }] },
    });
  });

  it("/readyz: 503 with every reason that applies", () => {
    const slots = [
      slotWith(0, undefined),
      slotWith(1, "booting"),
      slotWith(2, "starting"),
      slotWith(3, "ready", NOW - 400),
      slotWith(4, "ready", NOW, [
        { queue: "a", state: "stalled" },
        { queue: "b", state: "failing" },
        { queue: "c", state: "connected" },
      ]),
    ];
    expect(readiness(slots, true, 300, NOW)).to.deep.equal({
      status: 503,
      body: {
        status: "unready",
        reasons: [
          { reason: "stopping" },
          { reason: "process restarting", slot: 0 },
          { reason: "process booting", slot: 1, pid: 101 },
          { reason: "process booting", slot: 2, pid: 102 },
          { reason: "missed heartbeats", slot: 3, pid: 103, silentMs: 400 },
          { reason: "consumer stalled", slot: 4, pid: 104, queue: "a" },
          { reason: "broker unreachable", slot: 4, pid: 104, queue: "b" },
        ],
      },
    });
  });
});
