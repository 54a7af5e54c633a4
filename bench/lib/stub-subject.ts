// dramats on the in-memory StubBroker (bench/workers/stub-drain.ts): what the framework itself
// costs per message, with no server and no network.
import { MESSAGES } from "./config.ts";
import { modeOf, WARMUP, type ThroughputSubject } from "./subject.ts";
import { WorkerProcess } from "./worker-process.ts";

export class StubSubject implements ThroughputSubject {
  readonly name: string;
  readonly #concurrency: number;
  #process!: WorkerProcess;

  constructor(concurrency: number) {
    this.#concurrency = concurrency;
    this.name = `dramats stub c${concurrency}`;
  }

  async setup(): Promise<void> {
    this.#process = WorkerProcess.script({ name: this.name, path: "bench/workers/stub-drain", env: { BENCH_CONCURRENCY: String(this.#concurrency) } });
    await this.#process.ready();
    await this.#process.command(`round bulk ${WARMUP}`);
  }

  round(index: number): Promise<Record<string, number>> {
    return this.#process.command(`round ${modeOf(index)} ${MESSAGES}`);
  }

  async teardown(): Promise<void> {
    await this.#process?.close();
  }
}
