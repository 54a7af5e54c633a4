// The CPU-bound actor bench/threads.ts measures; pool threads import this module too.
import { actor } from "../lib/index.ts";

/** About `rounds` × 1M integer steps of pure CPU work (a xorshift walk), no allocation. */
export const burn = actor(function burn(rounds: number): number {
  let x = 2463534242;
  for (let i = 0; i < rounds * 1_000_000; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
  }
  return x >>> 0;
}, { queueName: "bench-threads", threaded: true });
