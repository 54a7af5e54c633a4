import { StubBroker } from "../../brokers/stub.ts";
import { Worker, type Middleware, type WorkerOptions } from "../../lib/index.ts";

/** A fresh stub broker and worker, stopped and closed by `teardown`. */
export async function stubWorld(options: { middleware?: Middleware[]; worker?: WorkerOptions; start?: boolean } = {}) {
  const broker = new StubBroker(options.middleware ? { middleware: options.middleware } : {});
  const worker = new Worker(broker, { fetchTimeout: 100, ...options.worker });
  if (options.start !== false) await worker.start();
  return {
    broker,
    worker,
    async teardown() {
      await worker.stop({ timeout: 1_000 });
      await broker.close();
    },
  };
}

/** A promise with its resolve function, for actors that wait for the test. */
export function deferred<T = void>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}
