// Quick start on the in-memory stub broker: nothing to install or start.
import { setBroker, Worker } from "../../lib/index.ts";
import { StubBroker } from "../../brokers/stub.ts";
import { delivered, flakyPing, sendWelcome } from "./actors.ts";

/** Runs the quick start and returns what the actors did. */
export async function main(): Promise<string[]> {
  const broker = setBroker(new StubBroker());
  const worker = new Worker(broker, { concurrency: 8 });
  await worker.start();

  await sendWelcome.send("u1");
  await sendWelcome.sendWithOptions({ args: ["u2", "fr"], delay: 100 });
  await flakyPing.send("example.org");

  await broker.join("emails");
  await worker.stop();
  await broker.close();
  return [...delivered].sort();
}

if (import.meta.url === `file://${process.argv[1]}`) {
  for (const line of await main()) console.log(line);
}
