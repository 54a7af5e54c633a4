import { randomUUID } from "node:crypto";
import type { Broker } from "./broker.ts";
import { getBroker } from "./global-broker.ts";
import { DramatsError, InvalidOptions, ResultMissing, ResultTimeout } from "./errors.ts";
import { bindBroker, boundBroker, Message, type MessageData } from "./message.ts";
import { checkRunOptions, showValue } from "./send-options.ts";
import type { GetResultOptions } from "./results/backend.ts";

/** Something a group can hold. */
export type GroupChild = Message<any, any> | Pipeline<any> | Group;

/** Options of `Pipeline.run` and `Group.run`. */
export interface RunOptions {
  /** Milliseconds before the first step (or every member) may run. */
  delay?: number;
}

function resolveBroker(explicit: Broker | undefined, first: Message<any, any> | undefined): Broker {
  return explicit ?? (first ? boundBroker(first) : undefined) ?? getBroker();
}

/** Milliseconds left until `deadline`, for results read under one shared timeout. */
function remaining(deadline: number): number {
  return Math.max(0, deadline - Date.now());
}

/**
 * Steps run one after another; each step's result is appended to the next step's arguments
 * (build steps with `actor.step(...)`, which leaves the last argument out), unless the next
 * step's actor or message sets `pipeIgnore`. A failing step stops the pipeline.
 */
export class Pipeline<R = unknown> {
  /** The broker the steps are sent through. */
  readonly broker: Broker;
  /** The steps as they will be sent, each carrying the next one in `options.pipe_target`. */
  readonly messages: readonly Message<any, any>[];

  constructor(children: readonly (Message<any, any> | Pipeline<any>)[], options: { broker?: Broker } = {}) {
    if (!Array.isArray(children)) throw new InvalidOptions(`pipeline() takes an array of steps, got ${children instanceof Message ? "one message (wrap it in [ ])" : showValue(children)}`);
    const flat: Message<any, any>[] = [];
    for (const child of children) {
      if (child instanceof Pipeline) flat.push(...child.messages);
      else if (child instanceof Message) flat.push(child);
      else throw new InvalidOptions("Pipeline steps are messages or pipelines (a group cannot be a step)");
    }
    if (flat.length === 0) throw new InvalidOptions("A pipeline needs at least one step");
    this.broker = resolveBroker(options.broker, flat[0]);
    const linked: Message<any, any>[] = new Array(flat.length);
    let next: MessageData | undefined;
    for (let i = flat.length - 1; i >= 0; i--) {
      const step = flat[i]!;
      // A step keeps its own options, but its link is replaced by the one to the new next step.
      const { pipe_target: _old, ...options } = step.options;
      linked[i] = new Message({
        queueName: step.queueName,
        actorName: step.actorName,
        args: step.args,
        kwargs: step.kwargs,
        options: next ? { ...options, pipe_target: next } : options,
        messageId: step.messageId,
        messageTimestamp: step.messageTimestamp,
      });
      bindBroker(linked[i]!, this.broker);
      next = linked[i]!.asData();
    }
    this.messages = linked;
  }

  /** Enqueues the first step. @throws InvalidOptions for a bad delay or an unknown option. */
  async run(options: RunOptions = {}): Promise<this> {
    checkRunOptions(options);
    const first = this.messages[0]!;
    const own = typeof first.options.delay === "number" ? first.options.delay : 0;
    await this.broker.enqueue(first, { delay: Math.max(options.delay ?? 0, own) });
    return this;
  }

  /** The last step's result. */
  result(options: GetResultOptions = {}): Promise<R> {
    return this.messages[this.messages.length - 1]!.result({ ...options, broker: this.broker }) as Promise<R>;
  }

  /** Every step's result, in order, under one shared timeout. */
  async results(options: GetResultOptions = {}): Promise<unknown[]> {
    const deadline = Date.now() + (options.timeout ?? 10_000);
    const out: unknown[] = [];
    for (const message of this.messages) {
      out.push(await message.result({ ...options, timeout: remaining(deadline), broker: this.broker }));
    }
    return out;
  }

  /** How many steps have finished, counting in order until the first without a result. */
  async completedCount(): Promise<number> {
    let count = 0;
    for (const message of this.messages) {
      if (!(await hasResult(message, this.broker))) break;
      count++;
    }
    return count;
  }
}

/**
 * Members run in parallel. With completion callbacks (a chord), the callbacks are enqueued
 * once every member has succeeded, through a barrier in the GroupCallbacks middleware's
 * backend: exactly once on a broker with a store (Redis, SQLite), at least once on RabbitMQ
 * (GroupCallbacks states the bound).
 */
export class Group {
  /** The broker the members are sent through. */
  readonly broker: Broker;
  #children: readonly GroupChild[];
  readonly #callbacks: Message<any, any>[] = [];

  constructor(children: readonly GroupChild[], options: { broker?: Broker } = {}) {
    if (!Array.isArray(children)) throw new InvalidOptions(`group() takes an array of messages, pipelines or groups, got ${showValue(children)}`);
    for (const child of children) {
      if (!(child instanceof Message || child instanceof Pipeline || child instanceof Group)) {
        throw new InvalidOptions(`group() members are messages, pipelines or groups, got ${showValue(child)}`);
      }
    }
    this.#children = children;
    const first = children.find((c): c is Message<any, any> => c instanceof Message);
    this.broker = options.broker ?? (children[0] instanceof Pipeline || children[0] instanceof Group ? children[0].broker : resolveBroker(undefined, first));
  }

  /** The members, as they are (or will be) sent. */
  get children(): readonly GroupChild[] {
    return this.#children;
  }

  /** Adds a message enqueued once every member finished successfully. */
  addCompletionCallback(message: Message<any, any>): this {
    this.#callbacks.push(message);
    return this;
  }

  /** Enqueues every member (with the same delay). @throws InvalidOptions for a bad delay or an unknown option. */
  async run(options: RunOptions = {}): Promise<this> {
    checkRunOptions(options);
    let children = this.children;
    if (this.#callbacks.length > 0) children = await this.#armBarrier();
    await Promise.all(
      children.map((child) => (child instanceof Message ? this.broker.enqueue(child, { delay: options.delay ?? 0 }) : child.run(options))),
    );
    return this;
  }

  async #armBarrier(): Promise<GroupChild[]> {
    const callbacks = this.broker.service("groupCallbacks");
    if (callbacks === undefined) {
      throw new DramatsError("Group completion callbacks need the GroupCallbacks middleware: broker.addMiddleware(new GroupCallbacks({ backend }))");
    }
    const id = randomUUID();
    await callbacks.createBarrier(id, this.children.length);
    const completion = { group_completion_uuid: id, group_completion_callbacks: this.#callbacks.map((m) => m.asData()) };
    const armed = this.children.map((child) => {
      if (child instanceof Message) return child.copy({ options: completion });
      if (child instanceof Pipeline) {
        const steps = [...child.messages];
        steps[steps.length - 1] = steps[steps.length - 1]!.copy({ options: completion });
        return new Pipeline(steps, { broker: child.broker });
      }
      throw new InvalidOptions("A group with completion callbacks cannot contain another group");
    });
    this.#children = armed;
    return armed;
  }

  /** Results in member order (a pipeline gives its last result, a group a list), under one shared timeout. */
  async results(options: GetResultOptions = {}): Promise<unknown[]> {
    const deadline = Date.now() + (options.timeout ?? 10_000);
    const out: unknown[] = [];
    for (const child of this.children) {
      const rest = { ...options, timeout: remaining(deadline) };
      if (child instanceof Group) out.push(await child.results(rest));
      else if (child instanceof Pipeline) out.push(await child.result(rest));
      else out.push(await child.result({ ...rest, broker: this.broker }));
    }
    return out;
  }

  /** Resolves when every member finished. @throws ResultTimeout */
  async wait(options: { timeout?: number } = {}): Promise<void> {
    await this.results(options);
  }

  /** How many members have finished. */
  async completedCount(): Promise<number> {
    let count = 0;
    for (const child of this.children) {
      if (child instanceof Group) count += (await child.completedCount()) === child.children.length ? 1 : 0;
      else if (child instanceof Pipeline) count += (await child.completedCount()) === child.messages.length ? 1 : 0;
      else count += (await hasResult(child, this.broker)) ? 1 : 0;
    }
    return count;
  }
}

async function hasResult(message: Message<any, any>, broker: Broker): Promise<boolean> {
  try {
    await message.result({ block: false, broker });
    return true;
  } catch (error) {
    if (error instanceof ResultMissing || error instanceof ResultTimeout) return false;
    return true; // a stored failure is a finished step
  }
}

/** A pipeline step: a message or a whole pipeline. */
export type PipelineStep = Message<any, any> | Pipeline<any>;

/** The result type of the last step of `S`. */
export type LastStepResult<S extends readonly PipelineStep[]> = S extends readonly [...PipelineStep[], infer Last]
  ? Last extends Message<any, infer R>
    ? R
    : Last extends Pipeline<infer R>
      ? R
      : unknown
  : unknown;

/** `pipeline([a.message(1), b.step(), c.step()]).run()`; `.result()` is the last step's, typed. */
export function pipeline<const S extends readonly PipelineStep[]>(steps: S, options: { broker?: Broker } = {}): Pipeline<LastStepResult<S>> {
  return new Pipeline<LastStepResult<S>>(steps, options);
}

/** `group([a.message(1), a.message(2)]).run()`; `.results()` in order. */
export function group(children: readonly GroupChild[], options: { broker?: Broker } = {}): Group {
  return new Group(children, options);
}
