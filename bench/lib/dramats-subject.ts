// dramats on a real broker: the bench enqueues through a producer broker in its own process,
// and worker processes (one unless told), started with the dramats CLI, drain the queue.
// The dramats code (worker and producer alike) comes from a tree: the bench's own by default, or
// another compiled copy, so that A/B runs (bench/ab.ts) compare two commits in one process.
import type { Actor } from "../../lib/index.ts";
import { RUN_ID } from "./config.ts";
import { brokerTarget, type BrokerKind, type BrokerTarget } from "./broker-target.ts";
import { WorkerSubject } from "./worker-subject.ts";
import { moduleUrl, OWN_TREE, WorkerProcess, type Tree } from "./worker-process.ts";

export type { BrokerKind } from "./broker-target.ts";

export interface DramatsSubjectOptions {
  nodeArgs?: string[];
  tree?: Tree;
  /** Tells apart subjects of the same kind (A/B runs); it joins the name. */
  label?: string;
  env?: Record<string, string>;
  /** The CLI's --processes; more than one adds `pN` to the name. @defaultValue 1 */
  processes?: number;
}

export class DramatsSubject extends WorkerSubject {
  readonly #kind: BrokerKind;
  readonly #concurrency: number;
  readonly #queue: string;
  readonly #options: DramatsSubjectOptions;
  #target: BrokerTarget | undefined;
  #noop!: Actor<[number], void>;

  constructor(kind: BrokerKind, concurrency: number, options: DramatsSubjectOptions = {}) {
    const processes = options.processes ?? 1;
    super(`dramats ${kind} c${concurrency}${processes > 1 ? ` p${processes}` : ""}${options.label ? ` ${options.label}` : ""}`, { redisCpu: kind === "redis" });
    this.#kind = kind;
    this.#concurrency = concurrency;
    this.#options = options;
    const label = options.label ? `${options.label}_` : "";
    this.#queue = `bench_${RUN_ID}_${label}${kind}_c${concurrency}${processes > 1 ? `_p${processes}` : ""}`;
  }

  protected override async start(): Promise<WorkerProcess> {
    const tree = this.#options.tree ?? OWN_TREE;
    this.#target = await brokerTarget(tree, this.#kind, this.#queue.replaceAll("_", "-"), this.#queue);
    const broker = this.#target.producer;
    const { actor } = (await import(moduleUrl(tree, "lib/index"))) as typeof import("../../lib/index.ts");
    // The same actor name and queue as the worker's module; the body never runs here.
    this.#noop = actor(function bench_noop(_n: number): void {}, { broker, queueName: this.#queue });
    return WorkerProcess.dramats({
      name: this.name,
      brokerUrl: this.#target.url,
      processes: this.#options.processes ?? 1,
      threads: this.#concurrency,
      nodeArgs: this.#options.nodeArgs ?? [],
      tree,
      env: { ...this.#options.env, BENCH_QUEUE: this.#queue },
    });
  }

  protected override send(i: number): Promise<unknown> {
    return this.#noop.send(i);
  }

  protected override sendMany(from: number, to: number): Promise<unknown> {
    return this.#noop.sendMany(Array.from({ length: to - from }, (_, k) => [from + k] as [number]));
  }

  protected override holdsLock(): boolean {
    return this.#target?.writeLocked?.() ?? false;
  }

  protected override async stop(): Promise<void> {
    await this.#target?.producer.close();
    await this.#target?.cleanup();
  }
}
