// Mixed fleets on Redis under two conditions real fleets meet: a Python host whose clock is off,
// and the heartbeats that short-lived Python producers leave behind (each process registers one
// in ns:__heartbeats__, dispatch.lua:58, left there until a maintenance pass clears it, :130).
import { randomUUID } from "node:crypto";
import { Redis } from "ioredis";
import { REDIS_URL } from "./env.ts";
import { drainExactlyOnce, killMidDrain } from "./fleet.ts";
import { groupSetup } from "./setup.ts";
import { HEARTBEAT_TIMEOUT, redisTarget } from "./targets.ts";

const SKEW = -90_000;
const STALE = 1_100;

export function redisFleetConditionChecks(): void {
  // The Python worker and the Python producer share the skewed host. A Python process on a right
  // clock would take the skewed worker for dead itself and requeue what it holds: Dramatiq's own
  // maintenance judges heartbeats by its caller's clock (dispatch.lua:111), which dramats cannot
  // change (the Redis README says so). What this checks is that dramats does not.
  describe(`Redis: mixed fleet with the Python host's clock ${-SKEW / 1000} s behind (1 Python worker, 1 dramats command)`, function () {
    this.timeout(120_000);
    const group = groupSetup(redisTarget, "skew", { workers: ["python", "node"], senders: ["python", "node"], pythonHostEnv: { INTEROP_CLOCK_SKEW_MS: String(SKEW) } });

    it("clock skew: 2,000 messages sent from both sides each run exactly once, by both sides' workers", async () => {
      // 25 ms a run: the Python worker holds messages through several of dramats' maintenance passes.
      await drainExactlyOnce(await group.ready(), "skew", 25);
    });
  });

  // No Python worker here: its own maintenance (0.1 % of its commands) also requeues a dead
  // consumer's messages and clears old heartbeats, which would hide whether dramats recovers.
  describe(`Redis: dramats fleet fed by Python producers, beside ${STALE.toLocaleString("en-US")} heartbeats of past Python producers (2 dramats commands)`, function () {
    this.timeout(120_000);
    const group = groupSetup(redisTarget, "stale", { workers: ["node", "node"], senders: ["python", "node"] });

    it(`stale heartbeats: SIGKILL of a dramats command mid-drain: nothing lost, the other finishes within the heartbeat timeout (${HEARTBEAT_TIMEOUT} ms) + 10 s`, async () => {
      const setup = await group.ready();
      // What 1,100 Python producer processes, gone 10 minutes ago, leave behind; seeded after the
      // sends, so that no Python maintenance pass clears them.
      const seed = async () => {
        const client = new Redis(REDIS_URL, { maxRetriesPerRequest: 3 });
        client.on("error", () => undefined);
        try {
          const at = Date.now() - 600_000;
          await client.zadd(`${setup.namespace}:__heartbeats__`, ...Array.from({ length: STALE }, (_, i) => [at + i, randomUUID()]).flat());
        } finally {
          client.disconnect();
        }
      };
      console.log(await killMidDrain(setup, "stale", "node", seed));
    });
  });
}
