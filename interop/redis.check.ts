// `npm run interop:python`, Redis: dramats against the real Python Dramatiq 2.2 (DRAMATIQ_SRC).
import { directionChecks } from "./harness/directions.ts";
import { fleetChecks } from "./harness/fleet.ts";
import { redisFleetConditionChecks } from "./harness/fleet-redis.ts";
import { killAll } from "./harness/processes.ts";
import { redisTarget } from "./harness/targets.ts";

describe("Python Dramatiq interop on Redis", () => {
  after(killAll);
  directionChecks(redisTarget, "python");
  directionChecks(redisTarget, "node");
  fleetChecks(redisTarget);
  redisFleetConditionChecks();
});
