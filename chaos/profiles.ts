// How big each run is. `short` is what CI runs (under 5 minutes in all once a killed process's
// messages come back within 2 s); `full` is for people; `tiny` is for the suite's own spec.
import type { FleetSettings } from "./fleet.ts";

export interface Profile {
  readonly name: string;
  /** Work messages per scenario. */
  readonly messages: number;
  /** Messages the producer scenario sends while its connection is cut. */
  readonly producerMessages: number;
  /** Faults per scenario at most (they stop early once the queue drained). */
  readonly maxFaults: number;
  /** Time between two faults (ms). */
  readonly faultEvery: number;
  /** Delays in the delayed scenario are spread over this long (ms). */
  readonly delaySpread: number;
  /** Poison messages of each kind (undecodable, unknown actor, oversized). */
  readonly poisonEach: number;
  /** Whether the poison scenario then runs the hostile corpus (the suite's own spec skips it). */
  readonly hostile: boolean;
  /** Longest a scenario may take to drain before what is missing counts as lost (ms). */
  readonly deadline: number;
}

export const PROFILES: Readonly<Record<string, Profile>> = {
  tiny: { name: "tiny", messages: 200, producerMessages: 300, maxFaults: 1, faultEvery: 1_000, delaySpread: 1_000, poisonEach: 3, hostile: false, deadline: 60_000 },
  short: { name: "short", messages: 1_500, producerMessages: 3_000, maxFaults: 3, faultEvery: 2_000, delaySpread: 4_000, poisonEach: 10, hostile: true, deadline: 180_000 },
  full: { name: "full", messages: 10_000, producerMessages: 10_000, maxFaults: 10, faultEvery: 2_000, delaySpread: 10_000, poisonEach: 30, hostile: true, deadline: 300_000 },
};

/** The `dramats` command line every scenario runs (2 processes of 8 async actors on this 2-core machine). */
export const FLEET: FleetSettings = { processes: 2, threads: 8, heartbeatTimeout: 5_000, grace: 10_000 };
