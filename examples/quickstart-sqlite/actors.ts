// The quick start's actors. `connect()` picks the broker exactly as the `dramats` command does:
// DRAMATS_BROKER if set, else the embedded SQLite file ./dramats.sqlite (nothing to install).
// The worker processes import this file too, so they and the app share one broker.
import { actor, connect, Results, Retry, StoreResultBackend, type ActorContext } from "../../lib/index.ts";

export const broker = await connect();
// Results live in the broker's own store: the SQLite file here, Redis after moving to Redis.
broker.addMiddleware(new Results({ backend: new StoreResultBackend({ store: broker.store }) }));

export const add = actor(function add(a: number, b: number) {
  return a + b;
}, { queueName: "quickstart", storeResults: true });

export const greet = actor(async function greet(name: string, locale: string = "en") {
  await new Promise((resolve) => setTimeout(resolve, 20)); // Some I/O.
  return locale === "fr" ? `Bonjour, ${name} !` : `Hello, ${name}!`;
}, { queueName: "quickstart", storeResults: true });

/** Fails its first attempt and asks to be retried 200 ms later. */
export const flakyPing = actor(function flakyPing(this: ActorContext, host: string) {
  const attempt = (this.message?.options.retries ?? 0) + 1;
  if (attempt === 1) throw new Retry("network hiccup", 200);
  return `pong from ${host} (attempt ${attempt})`;
}, { queueName: "quickstart", storeResults: true });
