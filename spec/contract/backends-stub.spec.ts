// The backend contract on the in-memory stubs: one instance is the whole store, so every
// "other instance" is the same one.
import { StubCancellationBackend, StubRateLimiterBackend, StubResultBackend } from "../../lib/index.ts";
import { backendContract, type BackendFactory } from "./backends/index.ts";

const factory: BackendFactory = async () => {
  const cancellation = new StubCancellationBackend();
  const rateLimiter = new StubRateLimiterBackend();
  const results = new StubResultBackend();
  return {
    shared: false,
    cancellation: () => cancellation,
    rateLimiter: () => rateLimiter,
    results: () => results,
    close: async () => {
      await cancellation.close();
      await rateLimiter.close();
      await results.close();
    },
  };
};

backendContract("stub", factory);
