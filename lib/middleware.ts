import type { Actor } from "./actor.ts";
import type { Broker } from "./broker.ts";
import type { Message } from "./message.ts";
import type { MessageProxy } from "./message-proxy.ts";
import type { GetResultOptions } from "./results/backend.ts";
import type { Worker } from "./worker.ts";

export { MiddlewareError, SkipMessage } from "./errors.ts";

/** What an actor run ended with: a result, or the error it threw. */
export type ProcessOutcome =
  | {
      /** What the actor returned (awaited). */
      result: unknown;
      /** Absent: the run succeeded. */
      error?: undefined;
    }
  | {
      /** Absent: the run failed. */
      result?: undefined;
      /** The error the actor threw, or why the run failed. */
      error: unknown;
    };

/**
 * Every hook, with its exact arguments. Declare hooks (`*Declare*`) are synchronous because
 * actors are declared at module load; the others may return a promise.
 * `before*` hooks run in list order and `after*` hooks in reverse list order (an onion).
 */
export interface MiddlewareHooks {
  /** Before an actor is registered on a broker. */
  beforeDeclareActor(broker: Broker, actor: Actor): void;
  /** After an actor is registered on a broker. */
  afterDeclareActor(broker: Broker, actor: Actor): void;
  /** Before a queue is declared. */
  beforeDeclareQueue(broker: Broker, queueName: string): void;
  /** After a queue is declared. */
  afterDeclareQueue(broker: Broker, queueName: string): void;
  /** After a queue's delay queue (`<queue>.DQ`) is declared. */
  afterDeclareDelayQueue(broker: Broker, delayQueueName: string): void;
  /** Before a message is written to the broker (sends, retries, pipeline steps). `delay` in ms. */
  beforeEnqueue(broker: Broker, message: Message, delay: number): void | Promise<void>;
  /** After the broker accepted a message. */
  afterEnqueue(broker: Broker, message: Message, delay: number): void | Promise<void>;
  /** Before a message with a delay is handed to the broker's delay store. */
  beforeDelayMessage(broker: Broker, message: Message, delay: number): void | Promise<void>;
  /** Before the actor runs; may throw SkipMessage. */
  beforeProcessMessage(broker: Broker, proxy: MessageProxy): void | Promise<void>;
  /** After the actor ran (or was skipped because the message had already failed). */
  afterProcessMessage(broker: Broker, proxy: MessageProxy, outcome: ProcessOutcome): void | Promise<void>;
  /** After a SkipMessage stopped the actor from running. */
  afterSkipMessage(broker: Broker, proxy: MessageProxy): void | Promise<void>;
  /** Before a message is acknowledged (it finished, or its retry was enqueued). */
  beforeAck(broker: Broker, proxy: MessageProxy): void | Promise<void>;
  /** After a message was acknowledged. */
  afterAck(broker: Broker, proxy: MessageProxy): void | Promise<void>;
  /** Before a failed message is moved to the dead-letter queue. */
  beforeNack(broker: Broker, proxy: MessageProxy): void | Promise<void>;
  /** After a failed message was moved to the dead-letter queue. */
  afterNack(broker: Broker, proxy: MessageProxy): void | Promise<void>;
  /** Once per worker process, right after the user's modules were loaded (the CLI calls it). */
  afterProcessBoot(broker: Broker): void | Promise<void>;
  /** Before a worker starts its consumers. */
  beforeWorkerBoot(broker: Broker, worker: Worker): void | Promise<void>;
  /** After a worker started consuming. */
  afterWorkerBoot(broker: Broker, worker: Worker): void | Promise<void>;
  /** After a consumer loop for `queueName` started. */
  afterConsumerThreadBoot(broker: Broker, worker: Worker, queueName: string): void | Promise<void>;
  /** After the worker's execution slots are ready. */
  afterWorkerThreadBoot(broker: Broker, worker: Worker): void | Promise<void>;
  /** First step of a shutdown: interrupts that should reach running actors fire here. */
  beforeWorkerShutdown(broker: Broker, worker: Worker): void | Promise<void>;
  /** During shutdown, once the consumer loops stopped fetching and before unstarted messages are given back. */
  beforeWorkerThreadShutdown(broker: Broker, worker: Worker): void | Promise<void>;
  /** During shutdown, before the consumer of `queueName` is closed (running actors finished or timed out). */
  beforeConsumerThreadShutdown(broker: Broker, worker: Worker, queueName: string): void | Promise<void>;
  /** After a worker stopped and closed its consumers. */
  afterWorkerShutdown(broker: Broker, worker: Worker): void | Promise<void>;
}

/** The name of a middleware hook. */
export type HookName = keyof MiddlewareHooks;

/**
 * A dramats addition to Dramatiq's hooks: run the actor call inside a context of the
 * middleware's (an AsyncLocalStorage scope, a tracing span). Must call `call` exactly once
 * and return what it returns.
 */
export interface ProcessWrapper {
  /** Runs `call` (the actor) inside the middleware's context and returns what it returns. */
  wrapProcessMessage(broker: Broker, proxy: MessageProxy, call: () => unknown): unknown;
}

/** Hook names in the order they are documented; the broker files middleware under each. */
export const HOOK_NAMES = [
  "beforeDeclareActor",
  "afterDeclareActor",
  "beforeDeclareQueue",
  "afterDeclareQueue",
  "afterDeclareDelayQueue",
  "beforeEnqueue",
  "afterEnqueue",
  "beforeDelayMessage",
  "beforeProcessMessage",
  "afterProcessMessage",
  "afterSkipMessage",
  "beforeAck",
  "afterAck",
  "beforeNack",
  "afterNack",
  "afterProcessBoot",
  "beforeWorkerBoot",
  "afterWorkerBoot",
  "afterConsumerThreadBoot",
  "afterWorkerThreadBoot",
  "beforeWorkerShutdown",
  "beforeWorkerThreadShutdown",
  "beforeConsumerThreadShutdown",
  "afterWorkerShutdown",
] as const satisfies readonly HookName[];

/**
 * Base class of all middleware. Override only the hooks you need: the broker dispatches
 * through one array per hook, so a hook nobody overrides costs nothing per message.
 */
export abstract class Middleware {
  /** Actor options this middleware understands; `actor()` rejects any option no middleware claims. */
  readonly actorOptions: ReadonlySet<string> = new Set();
  /**
   * Per-message overrides this middleware reads (camelCase, as in `MessageOverrides`);
   * `sendWithOptions` rejects any override no middleware on the broker claims.
   */
  readonly messageOptions: ReadonlySet<string> = new Set();

  /**
   * What this middleware offers the core beyond hooks: `message.result()`, `message.cancel()`
   * and chords look their service up on the broker's chain (the core knows no policy class).
   */
  readonly provides: Partial<MiddlewareServices> = {};

  /** A name for logs. */
  get name(): string {
    return this.constructor.name;
  }

  /**
   * Releases what this middleware holds open (its backends' connections). The broker calls it
   * from `broker.close()` once no other open broker holds this middleware, so a script that
   * closes its broker can exit. The default has nothing to release.
   */
  close(): void | Promise<void> {}
}

/** The services the core asks of the chain, by name; the first middleware providing one serves it. */
export interface MiddlewareServices {
  /** For `message.result()` (the Results middleware). */
  results: {
    storesResults(broker: Broker, message: Message): boolean;
    getResult<R>(message: Message, options: GetResultOptions): Promise<R>;
  };
  /** For `message.cancel()` (the Cancellation middleware). */
  cancellation: {
    cancel(messageId: string): Promise<void>;
  };
  /** For groups with completion callbacks (the GroupCallbacks middleware). */
  groupCallbacks: {
    /** Prepares the barrier that `count` members pass before the callbacks are sent. */
    createBarrier(id: string, count: number): Promise<void>;
  };
  /**
   * For telling which message the process works for at any moment (the CLI's BlockWatch): the
   * worker runs each message's processing, from its before-hooks to its settle, inside `run`,
   * and its own steps after a settle (freeing the slot, the next fetch) inside `outside`.
   */
  messageScope: {
    /** False while nothing records scopes: the worker then calls neither function. */
    readonly active: boolean;
    /** Calls `call` as work for `proxy`, with everything it schedules (promises, timers). */
    run<T>(proxy: MessageProxy, call: () => T): T;
    /** Calls `call` as work for no message. */
    outside<T>(call: () => T): T;
  };
}

/**
 * Resolves an option with Dramatiq's precedence: the message's value, then the actor's, then
 * the middleware default. Actor options are camelCase (`maxRetries`); on the wire, message
 * options carry Dramatiq's snake_case names (`max_retries`) so Python workers read them too.
 */
export function resolveOption<T>(
  message: { options: Record<string, unknown> },
  actor: { options: object } | undefined,
  key: string,
  fallback: T,
): T {
  const fromMessage = message.options[toWireName(key)];
  if (fromMessage !== undefined) return fromMessage as T;
  const fromActor = (actor?.options as Record<string, unknown> | undefined)?.[key];
  if (fromActor !== undefined) return fromActor as T;
  return fallback;
}

const wireNames = new Map<string, string>();

/** `maxRetries` → `max_retries`: the wire spelling of an option name. */
export function toWireName(key: string): string {
  let name = wireNames.get(key);
  if (name === undefined) {
    name = key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
    wireNames.set(key, name);
  }
  return name;
}
