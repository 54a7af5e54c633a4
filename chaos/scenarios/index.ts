// The scenarios by command-line name, in the order they run.
import type { Context } from "../context.ts";
import type { Row } from "../report.ts";
import { blockedLoop, delayedKill, killSupervisor, killWorker } from "./kills.ts";
import { killConnections, poison, producerCut, sigterm } from "./others.ts";
import { restartServer } from "./postgres.ts";

export interface Scenario {
  run(ctx: Context): Promise<Row>;
  /** Skipped on brokers without connections to kill (SQLite), or without a server the suite can restart (all but PostgreSQL). */
  needs?: "connections" | "restart";
}

export const SCENARIOS: Readonly<Record<string, Scenario>> = {
  "kill-worker": { run: killWorker },
  "kill-supervisor": { run: killSupervisor },
  "kill-connections": { run: killConnections, needs: "connections" },
  sigterm: { run: sigterm },
  "producer-cut": { run: producerCut, needs: "connections" },
  poison: { run: poison },
  "block-loop": { run: blockedLoop },
  "delayed-kill": { run: delayedKill },
  "restart-server": { run: restartServer, needs: "restart" },
};
