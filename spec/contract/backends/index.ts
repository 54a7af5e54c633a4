// Every backend contract, for a store's spec file to run in one call.
import { cancellationContract } from "./cancellation.contract.ts";
import type { BackendFactory } from "./place.ts";
import { rateLimiterContract } from "./rate-limiter.contract.ts";
import { resultsContract } from "./results.contract.ts";

export type { BackendFactory, BackendPlace } from "./place.ts";

/** Runs the cancellation, rate-limiter and result backend contracts on places from `factory`. */
export function backendContract(name: string, factory: BackendFactory): void {
  cancellationContract(name, factory);
  rateLimiterContract(name, factory);
  resultsContract(name, factory);
}
