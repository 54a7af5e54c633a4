import type { Broker } from "./broker.ts";
import { getBroker, peekBroker, registerGlobalActor } from "./global-broker.ts";
import { InvalidOptions } from "./errors.ts";
import { bindBroker, Message, type MessageOptions } from "./message.ts";
import { assertQueueName } from "./queue-names.ts";
import { checkSendOption, invalidSendOptions, showValue } from "./send-options.ts";
import { isPlainObject } from "./encoder.ts";
import { checkLimitValue, LIMIT_RULES } from "./message-limits.ts";
import { toWireName } from "./middleware.ts";
import { inTransaction, type SqlClient } from "./transactional.ts";

/**
 * Options of `actor()`. Middleware add their own fields here by declaration merging, so a
 * misspelt option fails to compile, and fails at declaration time in plain JavaScript.
 */
export interface ActorOptions {
  /** @defaultValue the function's name */
  actorName?: string;
  /** Queue the actor's messages go to. @defaultValue "default" */
  queueName?: string;
  /** Lower runs first, at the broker and among prefetched messages. @defaultValue 0 */
  priority?: number;
  /** @defaultValue the global broker (`setBroker`) */
  broker?: Broker;
  /**
   * Limits declared here that a message's own options may raise (`"maxRetries"`,
   * `"timeLimit"`, `"maxAge"`). Otherwise a message may only lower them: whoever writes to
   * the queue does not lift the actor's limits. @defaultValue none
   */
  raisableLimits?: readonly string[];
}

/**
 * Per-message overrides of actor options, for `sendWithOptions`/`messageWithOptions`.
 * Middleware add their fields by declaration merging; names are camelCase here and
 * travel as Dramatiq's snake_case (`maxRetries` → `max_retries`).
 */
export interface MessageOverrides {
  /** Lower runs first. */
  priority?: number;
}

/** `this` inside an actor function while a worker runs it. */
export interface ActorContext {
  /** Aborted when the run is interrupted (time limit, shutdown notification). */
  readonly signal: AbortSignal;
  /** The message being processed; undefined when the actor is called directly. */
  readonly message: Message | undefined;
}

/** All arguments but the last: what a pipeline step is given up front. */
export type PipeArgs<A extends unknown[]> = A extends [...infer Head, unknown] ? Head : A extends [] ? [] : Partial<A>;

/** An actor's function: `this` is the {@link ActorContext} of the run. */
export type ActorFunction<A extends unknown[], R> = (this: ActorContext, ...args: A) => R;

export interface SendOptions<A extends unknown[]> extends MessageOverrides {
  /** Positional arguments of the call. */
  args: A;
  /** Keyword arguments, for Python actors; dramats actors receive them as a trailing object. */
  kwargs?: Record<string, unknown>;
  /** Milliseconds before the message may run. @defaultValue 0 */
  delay?: number;
  /** Raw wire options, merged last (snake_case keys). */
  options?: MessageOptions;
  /**
   * `sendWithOptions` only: write the message through this database client, inside the
   * transaction open on it (a `pg` `Client`/`PoolClient` after `BEGIN`): it runs once that
   * transaction commits, never if it rolls back. PostgresBroker only (others reject with
   * TransactionsUnsupported); the enqueue hooks run as for any send.
   */
  db?: SqlClient;
}

/** What `actor()` returns: callable like the function itself, plus the messaging methods. */
export interface Actor<A extends unknown[] = any[], R = unknown> {
  /** Runs the function in-process, now (no broker involved). */
  (...args: A): R;
  /** Name the actor is registered under. */
  readonly actorName: string;
  /** Queue its messages go to. */
  readonly queueName: string;
  /** Priority of its messages: lower runs first. */
  readonly priority: number;
  /** The options the actor was declared with. */
  readonly options: Readonly<ActorOptions>;
  /** The function the actor runs. */
  readonly fn: ActorFunction<A, R>;
  /** The broker this actor is declared on. */
  readonly broker: Broker;
  /** Builds a message without sending it (for pipelines and groups). */
  message(...args: A): Message<A, Awaited<R>>;
  /**
   * A message with per-message options; a `delay` travels as the wire option `delay`.
   * @throws InvalidOptions naming the field, for a bad value or an option no middleware on the
   *   broker reads (checked once a broker is set).
   */
  messageWithOptions(options: SendOptions<A>): Message<A, Awaited<R>>;
  /**
   * A pipeline step: a message given every argument but the last, which the previous
   * step's result fills in when the pipeline runs.
   */
  step(...args: PipeArgs<A>): Message<A, Awaited<R>>;
  /** Enqueues a call; resolves with the message once the broker holds it. */
  send(...args: A): Promise<Message<A, Awaited<R>>>;
  /**
   * Enqueues a call with per-message options, visible after `delay` ms.
   * Rejects with InvalidOptions naming the field, sending nothing, for a non-array `args`, a
   * `delay` that is not a non-negative integer, a non-finite `priority`, or an option name no
   * middleware on the broker reads (the error lists the valid ones).
   */
  sendWithOptions(options: SendOptions<A>): Promise<Message<A, Awaited<R>>>;
  /**
   * Enqueues one call per argument list as a bulk send (`broker.enqueueMany`: fewer round
   * trips than as many `send` calls); resolves with the messages, in order, once the broker
   * holds them all.
   */
  sendMany(argsList: readonly A[]): Promise<Message<A, Awaited<R>>[]>;
  /** Runs the actor's function for a message (used by workers). */
  invoke(args: unknown[], context: ActorContext): R;
}

const NEVER_ABORTED = new AbortController().signal;
const DIRECT_CONTEXT: ActorContext = { signal: NEVER_ABORTED, message: undefined };

/** The runtime class behind every actor (an actor is a function whose prototype is this). */
class ActorImpl {
  declare actorName: string;
  declare queueName: string;
  declare priority: number;
  declare options: ActorOptions;
  declare fn: ActorFunction<unknown[], unknown>;
  declare explicitBroker: Broker | undefined;

  get broker(): Broker {
    return this.explicitBroker ?? getBroker();
  }

  /** @throws InvalidOptions naming the field, for a bad value or an option no middleware reads. */
  messageWithOptions(options: SendOptions<unknown[]>): Message<unknown[]> {
    // A delay on a message that is not sent directly (a pipeline step) travels as Dramatiq's `delay` option.
    return buildMessage(this, options, true);
  }

  message(...args: unknown[]): Message<unknown[]> {
    return bindTo(this.explicitBroker, new Message({ queueName: this.queueName, actorName: this.actorName, args, kwargs: {}, options: {} }));
  }

  step(...args: unknown[]): Message<unknown[]> {
    return this.message(...args);
  }

  send(...args: unknown[]): Promise<Message<unknown[]>> {
    if (args.length < this.fn.length) return Promise.reject(tooFewArguments(this, args));
    return this.broker.enqueue(this.message(...args));
  }

  /** Rejects with InvalidOptions, sending nothing, for a bad value or an unknown option. */
  sendWithOptions(options: SendOptions<unknown[]>): Promise<Message<unknown[]>> {
    let message: Message<unknown[]>;
    try {
      message = buildMessage(this, options, false);
      if (message.args.length < this.fn.length && Object.keys(message.kwargs).length === 0) throw tooFewArguments(this, message.args);
    } catch (error) {
      return Promise.reject(error);
    }
    const broker = this.broker;
    if (options.db !== undefined) return inTransaction(broker, options.db, () => broker.enqueue(message, { delay: options.delay ?? 0 }));
    return broker.enqueue(message, { delay: options.delay ?? 0 });
  }

  sendMany(argsList: readonly unknown[][]): Promise<Message<unknown[]>[]> {
    if (!Array.isArray(argsList)) {
      return Promise.reject(invalidSendOptions(this.actorName, "sendMany takes an array of argument lists", argsList));
    }
    const messages: Message<unknown[]>[] = new Array(argsList.length);
    for (let i = 0; i < argsList.length; i++) {
      const args = argsList[i];
      // A string would spread into one argument per character.
      if (!Array.isArray(args)) {
        return Promise.reject(invalidSendOptions(this.actorName, `sendMany: entry ${i} must be an array of arguments`, args));
      }
      if (args.length < this.fn.length) return Promise.reject(tooFewArguments(this, args, `sendMany: entry ${i}: `));
      messages[i] = this.message(...args);
    }
    return this.broker.enqueueMany(messages);
  }

  invoke(args: unknown[], context: ActorContext): unknown {
    return this.fn.apply(context, args);
  }

  toString(): string {
    return `Actor(${this.actorName})`;
  }
}

/**
 * What tsc says of `add.send(1)` for `add(a, b)`, said at run time to JavaScript callers. Only
 * too few is knowable: `fn.length` counts the parameters before the first default or rest one.
 * Pipeline steps are exempt (the previous step's result becomes their last argument).
 */
function tooFewArguments(actor: ActorImpl, args: readonly unknown[], where = ""): InvalidOptions {
  const wanted = actor.fn.length;
  return invalidSendOptions(actor.actorName, `${where}expects at least ${wanted} argument${wanted === 1 ? "" : "s"} (${actor.fn.name || "its function"} declares ${wanted} without a default)`, args);
}

/**
 * Checks and converts `SendOptions` in one pass over their own keys: overrides become wire
 * options (`maxRetries` → `max_retries`), the rest builds the message. `delay` becomes the
 * wire `delay` option only when `delayOnWire` (a message built to be sent later).
 */
function buildMessage(actor: ActorImpl, options: SendOptions<unknown[]>, delayOnWire: boolean): Message<unknown[]> {
  const name = actor.actorName;
  if (options === null || typeof options !== "object") throw invalidSendOptions(name, "send options must be an object", options);
  const broker = actor.explicitBroker ?? peekBroker();
  const wire: MessageOptions = {};
  // `args` is required, so the loop below (which sees only present keys) cannot be the one to check it.
  checkSendOption("args", options.args, broker, name);
  for (const key in options) {
    const value = (options as object as Record<string, unknown>)[key];
    if (key === "db") {
      if (delayOnWire && value !== undefined) throw invalidSendOptions(name, "`db` applies to sendWithOptions only (a built message is sent later)", typeof value);
      continue;
    }
    checkSendOption(key, value, broker, name);
    if (key in LIMIT_RULES) checkLimitValue(`Actor ${JSON.stringify(name)}`, key, value);
    if (key === "args" || key === "kwargs" || key === "options" || key === "delay" || value === undefined) continue;
    // An actor given as a callback travels by name, as in Dramatiq, with its queue for workers that did not declare it.
    if (!isActor(value)) wire[toWireName(key)] = value;
    else {
      wire[toWireName(key)] = value.actorName;
      wire[`${toWireName(key)}_queue`] = value.queueName;
    }
  }
  const { delay, options: raw } = options;
  if (delayOnWire && delay !== undefined && delay > 0) wire.delay = delay;
  return bindTo(
    actor.explicitBroker,
    new Message({
      queueName: actor.queueName,
      actorName: actor.actorName,
      args: options.args,
      kwargs: options.kwargs ?? {},
      options: raw ? { ...wire, ...raw } : wire,
    }),
  );
}

// Actors are functions given ActorImpl's prototype, never constructed: no #private members there.
function bindTo(broker: Broker | undefined, message: Message<unknown[]>): Message<unknown[]> {
  if (broker) bindBroker(message, broker);
  return message;
}

/** True for values made by `actor()` or `@actor`. */
export function isActor(value: unknown): value is Actor {
  return typeof value === "function" && value instanceof ActorImpl;
}

function createActor<A extends unknown[], R>(fn: ActorFunction<A, R>, options: ActorOptions, defaultName: string): Actor<A, R> {
  const actorName = options.actorName ?? defaultName;
  if (!actorName) throw new InvalidOptions("An anonymous function needs the `actorName` option");
  const queueName = options.queueName ?? "default";
  assertQueueName(queueName);
  const priority = options.priority ?? 0;
  if (!Number.isFinite(priority)) throw new InvalidOptions(`Actor ${actorName}: priority must be a finite number`);
  for (const key in LIMIT_RULES) checkLimitValue(`Actor ${JSON.stringify(actorName)}`, key, (options as Record<string, unknown>)[key]);

  const callable = function (this: unknown, ...args: A): R {
    return fn.apply(DIRECT_CONTEXT, args);
  };
  Object.setPrototypeOf(callable, ActorImpl.prototype);
  const self = callable as unknown as ActorImpl;
  self.actorName = actorName;
  self.queueName = queueName;
  self.priority = priority;
  const { broker, ...rest } = options;
  self.options = rest;
  self.fn = fn as ActorFunction<unknown[], unknown>;
  self.explicitBroker = broker;

  const actorObject = callable as unknown as Actor<A, R>;
  if (broker) broker.declareActor(actorObject);
  else registerGlobalActor(actorObject);
  return actorObject;
}

type MethodDecorator<This, A extends unknown[], R> = (
  target: (this: This, ...args: A) => R,
  context: ClassMethodDecoratorContext<This, (this: This, ...args: A) => R>,
) => (this: This, ...args: A) => R;

/**
 * Makes `fn` an actor: `send(...)` enqueues a call, type-checked against `fn`.
 *
 * ```ts
 * export const add = actor(async function add(a: number, b: number) { return a + b; }, { queueName: "math" });
 * await add.send(1, 2);
 * ```
 *
 * With only options, returns a standard decorator for static methods; send through `actorOf`.
 * @throws InvalidOptions for unknown options, a duplicate name or a bad queue name.
 */
export function actor<A extends unknown[], R>(fn: ActorFunction<A, R>, options?: ActorOptions): Actor<A, R>;
export function actor(options?: ActorOptions): <This, A extends unknown[], R>(
  target: (this: This, ...args: A) => R,
  context: ClassMethodDecoratorContext<This, (this: This, ...args: A) => R>,
) => (this: This, ...args: A) => R;
export function actor(
  fnOrOptions?: ActorFunction<unknown[], unknown> | ActorOptions,
  maybeOptions: ActorOptions = {},
): unknown {
  if (typeof fnOrOptions === "function") return createActor(fnOrOptions, maybeOptions, fnOrOptions.name);
  // What tsc refuses, refused at run time for JavaScript callers.
  if (fnOrOptions !== undefined && !isPlainObject(fnOrOptions)) {
    throw new InvalidOptions(`actor() takes a function (and options), or options to decorate a method with; got ${showValue(fnOrOptions)}`);
  }
  const options = fnOrOptions ?? {};
  const decorate: MethodDecorator<unknown, unknown[], unknown> = (target, context) => {
    if (context.kind !== "method" || !context.static || context.private) {
      throw new InvalidOptions("@actor decorates public static methods; use actor(fn) for anything else");
    }
    const name = String(context.name);
    let owner: unknown;
    // Run the method with `this` bound to its class, as a direct static call would.
    context.addInitializer(function (this: unknown) {
      owner = this;
    });
    const wrapped = actor(function (this: ActorContext, ...args: unknown[]) {
      return target.apply(owner, args);
    }, { actorName: name, ...options });
    return wrapped as (this: unknown, ...args: unknown[]) => unknown;
  };
  return decorate;
}

/**
 * The typed actor behind a method decorated with `@actor` (a decorator cannot change the
 * method's declared type, so `Reports.generate.send` would not type-check).
 * @throws InvalidOptions when `method` is not an actor.
 */
export function actorOf<A extends unknown[], R>(method: (...args: A) => R): Actor<A, R> {
  if (!isActor(method)) throw new InvalidOptions(`${method.name || "function"} is not an actor: decorate it with @actor`);
  return method as unknown as Actor<A, R>;
}
