// A periodic actor: enqueued by the workers themselves, once per tick across the fleet.
import { actor, Worker, type ActorContext } from "../../lib/index.ts";
import { StubBroker } from "../../brokers/stub.ts";

const broker = new StubBroker();
const ticks: number[] = [];

export const heartbeat = actor(function heartbeat(this: ActorContext, source: string) {
  ticks.push(this.message?.options.schedule_tick as number);
  void source;
}, { broker, schedule: { every: 1_000, args: ["cron example"] } });

export const nightly = actor(function nightlyReport() {}, { broker, schedule: { cron: "0 3 * * *", timezone: "Europe/Paris" } });

/** Runs the worker (and so its scheduler) for about `ms`, then returns the ticks that ran. */
export async function main(ms = 2_300): Promise<number[]> {
  const worker = new Worker(broker);
  await worker.start();
  await new Promise((resolve) => setTimeout(resolve, ms));
  await worker.stop();
  await broker.close();
  return ticks;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const ran = await main();
  console.log(`ticks: ${ran.length}, one second apart: ${ran.every((t, i) => i === 0 || t - ran[i - 1]! === 1_000)}`);
}
