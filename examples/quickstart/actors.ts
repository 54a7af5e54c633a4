// The quick start: declare actors, send messages, run a worker.
// Run it with: node --import tsx examples/quickstart/main.ts
import { actor, Retry, type ActorContext } from "../../lib/index.ts";

export const delivered: string[] = [];

/** Sends a welcome e-mail (here: records it). Retried with backoff if it throws. */
export const sendWelcome = actor(
  async function sendWelcome(this: ActorContext, userId: string, locale: string = "en") {
    if (this.signal.aborted) return;
    delivered.push(`welcome ${userId} (${locale})`);
  },
  { queueName: "emails", maxRetries: 5, timeLimit: 60_000 },
);

let flakyCalls = 0;

/** Fails once and asks to be retried 50 ms later, then succeeds. */
export const flakyPing = actor(
  function flakyPing(host: string) {
    if (flakyCalls++ === 0) throw new Retry("network hiccup", 50);
    delivered.push(`pong from ${host}`);
  },
  { queueName: "emails" },
);
