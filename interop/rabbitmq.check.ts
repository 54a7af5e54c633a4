// `npm run interop:python`, RabbitMQ: dramats against the real Python Dramatiq 2.2 (DRAMATIQ_SRC).
import { directionChecks } from "./harness/directions.ts";
import { fleetChecks } from "./harness/fleet.ts";
import { killAll } from "./harness/processes.ts";
import { rabbitmqTarget } from "./harness/targets.ts";

describe("Python Dramatiq interop on RabbitMQ", () => {
  after(killAll);
  directionChecks(rabbitmqTarget, "python");
  directionChecks(rabbitmqTarget, "node");
  fleetChecks(rabbitmqTarget);
});
